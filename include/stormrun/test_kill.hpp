// Test-only kill points for the crash-consistency harness (tests/crash/, docs/architecture.md).
#pragma once

#include <string_view>

namespace stormrun {

/// True only when STORMRUN_TEST_KILL_AT is set (read once per process): lets a caller skip
/// building a point's name in production.
bool test_kill_armed();

/// When STORMRUN_TEST_KILL_AT is "<point>:<rank>:<n>" (rank `*`: every rank) naming `point`
/// and this process's rank, counts this arrival and, at the n-th, raises SIGKILL on this
/// process: no destructor, flush or handler runs, as if the machine had killed it there.
/// An unknown point or a malformed value ends the process with exit 2 and a message.
/// Local (no communication); never set outside tests.
void test_kill_point(std::string_view point);

}  // namespace stormrun
