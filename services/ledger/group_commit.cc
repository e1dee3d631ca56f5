#include "services/ledger/group_commit.h"

#include <set>
#include <utility>

namespace tahe::ledger {

GroupCommitter::GroupCommitter(LedgerRepository* repository, Options options)
    : repository_(repository), options_(options) {
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

GroupCommitter::~GroupCommitter() { Stop(); }

bool GroupCommitter::Submit(PostInput input, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return false;
    }
    queue_.push_back({std::move(input), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

void GroupCommitter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void GroupCommitter::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      // Take what is queued. A second post with a request id already in this batch waits for
      // the next one, so it sees the first as a replay instead of racing it.
      std::set<std::pair<std::string, std::string>> ids;
      for (auto it = queue_.begin();
           it != queue_.end() && static_cast<int>(batch.size()) < options_.max_batch;) {
        if (ids.emplace(it->input.tenant, it->input.request_id).second) {
          batch.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      if (!queue_.empty()) {
        cv_.notify_one();  // another committer can start on the rest
      }
    }
    std::vector<const PostInput*> inputs;
    inputs.reserve(batch.size());
    for (const Pending& p : batch) {
      inputs.push_back(&p.input);
    }
    std::vector<PostOutcome> outcomes = repository_->PostGroup(inputs);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(outcomes[i]));
    }
  }
}

}  // namespace tahe::ledger
