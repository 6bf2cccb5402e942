// A long-lived background thread that runs jobs one at a time, in the order they are handed
// over. The signals a run stops on are blocked in it (so they keep going to the main thread,
// whose handlers and interrupted calls the run is written around). Used by asynchronous
// checkpoint commits (CheckpointCore) and by the output's deferred fsync (OutputFile).
//
// One thread for the object's whole life: a new thread per job cost ≈ 0.1 ms of clone,
// signal masks and stack set-up on every small commit's own path (docs/performance.md,
// "Pack commits: what P3 reached").
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace stormrun::detail {

/// Blocks the signals a run stops on in the calling thread while it lives, so that a thread
/// started inside inherits the mask.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGQUIT, SIGALRM, SIGCONT})
      sigaddset(&set, signal);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

class BackgroundWorker {
 public:
  BackgroundWorker() {
    const StopSignalsBlocked blocked;
    thread_ = std::thread([this] { loop(); });
  }
  /// Finishes the jobs handed over, then joins the thread.
  ~BackgroundWorker() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  /// Queues `job` behind the ones handed over before. A job must not throw: it keeps its
  /// own error for whoever waits for it.
  void run(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
      ++unfinished_;
    }
    wake_.notify_one();
  }
  /// Returns once every job handed over so far has finished.
  void wait() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return unfinished_ == 0; });
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to do
      const std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
      --unfinished_;
      idle_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> jobs_;  // handed over, not started yet
  int unfinished_ = 0;                      // handed over and not finished
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace stormrun::detail
