#pragma once

// Group commit for journal posts. Concurrent PostEntry calls queue here; a few committer threads
// each take everything queued (up to a batch limit) and post it in ONE database transaction, so
// 64 concurrent clients pay for one commit (one WAL flush), not 64. Each caller still gets its
// own result: validation errors, idempotent replays and conflicts are decided per entry
// (LedgerRepository::PostGroup).
//
//   GroupCommitter committer(&repository, {.threads = 2, .max_batch = 256});
//   committer.Submit(std::move(input), [reactor](PostOutcome outcome) { ... finish the call ... });

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "services/ledger/ledger_repository.h"

namespace tahe::ledger {

class GroupCommitter {
 public:
  struct Options {
    int threads = 2;
    int max_batch = 256;
  };
  using Done = std::function<void(PostOutcome)>;

  GroupCommitter(LedgerRepository* repository, Options options);
  ~GroupCommitter();  // Stop()

  // Queues one post; `done` runs on a committer thread once it is decided. False when stopped.
  bool Submit(PostInput input, Done done);
  // Commits everything queued, then joins the threads. Idempotent.
  void Stop();

 private:
  struct Pending {
    PostInput input;
    Done done;
  };
  void Run();

  LedgerRepository* const repository_;
  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace tahe::ledger
