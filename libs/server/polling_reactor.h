#pragma once

// A server-streaming handler that polls: Poll() (on the worker pool) returns the messages to send
// now and whether the stream ends after them; with nothing to send it is called again after the
// poll interval (a grpc::Alarm, no thread waits). The stream ends when Poll says so, when the
// client cancels, or with UNAVAILABLE when the service is stopping (`*stopping` set).
//
// At most one operation is outstanding at any time (a poll on the worker pool, a write, or the
// alarm before the next poll), and whichever completes decides the next step, so Finish runs
// exactly once and nothing touches the reactor after OnDone.
//
//   class Watch final : public server::PollingWriteReactor<Progress> {
//    public:
//     Watch(grpc::CallbackServerContext* ctx, ...) : PollingWriteReactor(env, interval, &stop) {
//       Start(ctx, "WatchRun", ValidateRequest(...));
//     }
//     absl::Status Poll(const CallContext& call, std::vector<Progress>& out, bool& done) override;
//   };

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/server/call.h"
#include "libs/status/status.h"

namespace tahe::server {

template <typename Message>
class PollingWriteReactor : public grpc::ServerWriteReactor<Message> {
 public:
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    ++next_;
    if (next_ < buffer_.size()) {
      this->StartWrite(&buffer_[next_]);
    } else if (finished_) {
      this->Finish(grpc::Status::OK);
    } else {
      Fetch();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (alarm_ != nullptr) alarm_->Cancel();  // its callback runs Fetch(), which finishes
  }

  void OnDone() override { delete this; }

 protected:
  PollingWriteReactor(HandlerEnv env, absl::Duration poll_interval,
                      const std::atomic<bool>* stopping)
      : env_(env), poll_interval_(poll_interval), stopping_(stopping) {}

  // The messages to send now (none: poll again after the interval) and whether the stream ends
  // after them. Runs on a worker thread, one call at a time.
  virtual absl::Status Poll(const CallContext& call, std::vector<Message>& out, bool& finished) = 0;

  // Authenticates the call, then (if `invalid` is OK) starts polling; otherwise finishes. The
  // last statement of the derived constructor.
  void Start(grpc::CallbackServerContext* ctx, absl::string_view method,
             const absl::Status& invalid) {
    absl::StatusOr<CallContext> call = StartCall(ctx, env_, method);
    if (!call.ok()) {
      this->Finish(ToGrpcStatus(call.status()));
      return;
    }
    if (!invalid.ok()) {
      this->Finish(ToGrpcStatus(invalid));
      return;
    }
    call_ = *std::move(call);
    call_.deadline = absl::InfiniteFuture();  // each poll gets its own timeout
    Fetch();
  }

 private:
  void Fetch() {
    if (cancelled_) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (stopping_ != nullptr && *stopping_) {
      this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down; reconnect"));
      return;
    }
    bool queued = env_.workers->Submit([this] {
      CallContext call = call_;
      call.deadline = absl::Now() + absl::Seconds(30);
      std::vector<Message> out;
      bool finished = false;
      absl::Status status = GuardedRun(call, [&] { return Poll(call, out, finished); });
      if (!status.ok()) {
        this->Finish(ToWireStatus(call_, status));
        return;
      }
      if (out.empty()) {
        if (finished) {
          this->Finish(grpc::Status::OK);
          return;
        }
        absl::MutexLock lock(&mu_);
        if (cancelled_) {
          this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
          return;
        }
        // A fresh alarm per poll: the previous one's callback may still be returning.
        alarm_ = std::make_unique<grpc::Alarm>();
        alarm_->Set(absl::ToChronoTime(absl::Now() + poll_interval_), [this](bool) { Fetch(); });
        return;
      }
      buffer_ = std::move(out);
      next_ = 0;
      finished_ = finished;
      this->StartWrite(&buffer_[0]);
    });
    if (!queued) {
      this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded or shutting down"));
    }
  }

  const HandlerEnv env_;
  const absl::Duration poll_interval_;
  const std::atomic<bool>* const stopping_;
  CallContext call_;
  std::vector<Message> buffer_;
  size_t next_ = 0;
  bool finished_ = false;
  absl::Mutex mu_;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cancelled_{false};  // written under mu_
};

}  // namespace tahe::server
