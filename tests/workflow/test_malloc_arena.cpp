// share_one_malloc_arena (runtime.hpp): its own executable, because glibc's arenas are per
// process and threads started by other test cases would already have made some.
#include <doctest/doctest.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "stormrun/runtime/runtime.hpp"

using namespace stormrun;

// Only with glibc's own allocator: the sanitizers bring theirs (clang-14 defines no
// __SANITIZE_ADDRESS__, hence __has_feature).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define STORMRUN_SANITIZER_MALLOC 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(STORMRUN_SANITIZER_MALLOC) && defined(__GLIBC__)
namespace {

/// In a forked child (the setting is process-wide): `user_choice` set or not, calls
/// share_one_malloc_arena(), lets 4 threads allocate, and exits with glibc's arena count.
int arenas_after_sharing(bool user_choice) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (user_choice)
      ::setenv("MALLOC_ARENA_MAX", "8", 1);  // glibc read it at start: only our call sees it
    else
      ::unsetenv("MALLOC_ARENA_MAX");
    ::unsetenv("GLIBC_TUNABLES");
    runtime::share_one_malloc_arena();
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([] {
        std::vector<char> block(64 << 10, 'x');
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      });
    for (auto& t : threads)
      t.join();
    char* text = nullptr;
    std::size_t size = 0;
    FILE* out = ::open_memstream(&text, &size);
    ::malloc_info(0, out);
    std::fclose(out);
    int heaps = 0;
    for (const char* at = text; (at = std::strstr(at, "<heap nr=")) != nullptr; ++at)
      ++heaps;
    ::_exit(heaps);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("share_one_malloc_arena: every thread allocates from one arena, unless the user chose") {
  CHECK(arenas_after_sharing(false) == 1);
  // The control: without the call (the user's MALLOC_ARENA_MAX is left alone) the threads
  // have arenas of their own.
  CHECK(arenas_after_sharing(true) > 1);
}
#endif
