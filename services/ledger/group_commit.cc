#include "services/ledger/group_commit.h"

#include <set>
#include <utility>

namespace tahe::ledger {

GroupCommitter::GroupCommitter(LedgerRepository* repository, Options options)
    : repository_(repository), options_(options) {
  for (int i = 0; i < options_.threads; ++i) {
    lanes_.push_back(std::make_unique<Lane>());
  }
  for (auto& lane : lanes_) {
    threads_.emplace_back([this, lane = lane.get()] { Run(lane); });
  }
}

GroupCommitter::~GroupCommitter() { Stop(); }

bool GroupCommitter::Submit(PostInput input, Done done) {
  Lane* lane = lanes_[std::hash<std::string>()(input.tenant) % lanes_.size()].get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return false;
    }
    lane->queue.push_back({std::move(input), std::move(done)});
  }
  lane->cv.notify_one();
  return true;
}

void GroupCommitter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  for (auto& lane : lanes_) {
    lane->cv.notify_all();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void GroupCommitter::Run(Lane* lane) {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      lane->cv.wait(lock, [&] { return stopping_ || !lane->queue.empty(); });
      if (lane->queue.empty()) {
        return;  // stopping and drained
      }
      // Take what is queued for the first tenant in line. A second post with a request id
      // already in this batch waits for the next one, so it sees the first as a replay instead
      // of racing it.
      const std::string tenant = lane->queue.front().input.tenant;
      std::set<std::string> ids;
      for (auto it = lane->queue.begin();
           it != lane->queue.end() && static_cast<int>(batch.size()) < options_.max_batch;) {
        if (it->input.tenant == tenant && ids.insert(it->input.request_id).second) {
          batch.push_back(std::move(*it));
          it = lane->queue.erase(it);
        } else {
          ++it;
        }
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
