#pragma once

// Group commit for journal posts. Concurrent PostEntry calls queue here; committer threads each
// take everything queued (up to a batch limit) and post it in ONE database transaction, so 64
// concurrent clients pay for one commit (one WAL flush), not 64. Each tenant belongs to one
// committer (by hash), and a group holds one tenant only: posts of a tenant are serialised by its
// chain head anyway, so a second committer on the same tenant would only split the groups and
// queue on the lock, and mixing tenants would make one group wait for every tenant's lock. Each
// caller still gets its own result: validation errors, idempotent replays and conflicts are decided
// per entry (LedgerRepository::PostGroup).
//
//   GroupCommitter committer(&repository, {.threads = 2, .max_batch = 256});
//   committer.Submit(std::move(input), [reactor](PostOutcome outcome) { ... finish the call ... });

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
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
  struct Lane {
    std::condition_variable cv;
    std::deque<Pending> queue;  // guarded by mu_
  };
  void Run(Lane* lane);

  LedgerRepository* const repository_;
  const Options options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace tahe::ledger
