#pragma once

// A fixed set of threads for blocking work (database calls), so gRPC's callback threads never
// block. Size it to the database pool: more workers than connections would only queue on the pool.
//
//   WorkerPool pool(16, "ledger");
//   if (!pool.Submit([] { DoBlockingThing(); })) { /* shutting down or queue full */ }

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tahe::server {

class WorkerPool {
 public:
  // `max_queue`: tasks waiting beyond this are refused (Submit returns false) so overload gives a
  // fast RESOURCE_EXHAUSTED instead of unbounded memory and latency.
  WorkerPool(int threads, size_t max_queue = 100000);
  ~WorkerPool();  // Drains queued tasks, then joins.

  bool Submit(std::function<void()> task);
  // Stops accepting, runs what is queued, joins the threads. Idempotent.
  void Drain();
  size_t queued() const;

 private:
  void Run();
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace tahe::server
