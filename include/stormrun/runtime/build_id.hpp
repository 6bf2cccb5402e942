// The identity of the running binary, for the ranks' agreement on one configuration
// (run_start.hpp's shared_settings): ranks launched from different builds — an MPMD line,
// a node that sees another install under the same path, a binary rebuilt between the
// nodes' loads — must not write one output under one fingerprint.
#pragma once

#include <string>

namespace stormrun::runtime {

/// Local. The GNU build-id of the main executable (the linker's note, hex) when it has one,
/// else "sha:" + a hash of /proc/self/exe's bytes, else "unknown". Computed once.
const std::string& build_id();

}  // namespace stormrun::runtime
