#include "tests/bench/bench_common.h"

#include <errno.h>  // program_invocation_short_name (glibc)

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>

#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/config/config.h"
#include "libs/server/grpc_server.h"

namespace tahe::bench {

using Clock = std::chrono::steady_clock;

void AddMetadata(grpc::ClientContext* ctx, const Target& target, const std::string& request_id) {
  ctx->AddMetadata("x-tahe-internal-token", target.internal_token);
  ctx->AddMetadata("x-tahe-tenant", target.tenant);
  if (!request_id.empty()) {
    ctx->AddMetadata("x-request-id", request_id);
  }
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

std::string StatusText(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), " ", s.error_message());
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // A channel of its own connection: without a local subchannel pool, channels with equal
  // arguments share one subchannel (one TCP connection), which defeats having several.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("tahe.bench.channel_index", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitConnected(grpc::Channel& channel, const std::string& address) {
  if (!channel.WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(
    const std::string& address, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    channels.push_back(NewChannel(address, i));
    if (absl::Status s = WaitConnected(*channels.back(), address); !s.ok()) {
      return s;
    }
  }
  return channels;
}

std::string RandomRunId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  return absl::StrFormat("%012x", rng() & 0xffffffffffffULL);
}

std::string TodayUtc() {
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status CallError(const std::string& what, const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

absl::Status ParallelFor(int count, int threads, const std::function<absl::Status(int)>& body) {
  std::atomic<int> next{0};
  std::mutex mu;
  absl::Status first;  // guarded by mu
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        absl::Status s = body(i);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first.ok()) {
            first = s;
          }
        }
      }
    });
  }
  for (std::thread& w : workers) {
    w.join();
  }
  return first;
}

// --- closed-loop load ----------------------------------------------------------------------------

ClosedLoopClient::ClosedLoopClient() { latencies_us_.reserve(1 << 14); }

void ClosedLoopClient::Start(ClosedLoopWindow* window) {
  window_ = window;
  Issue();
}

void ClosedLoopClient::Issue() {
  // A fresh context per call, as gRPC's own callback benchmark client does; the previous one is
  // released here, after its call completed.
  context_ = std::make_unique<grpc::ClientContext>();
  Clock::time_point started = Clock::now();
  StartCall(context_.get(),
            [this, started](const grpc::Status& status) { OnDone(status, started); });
}

void ClosedLoopClient::OnDone(const grpc::Status& status, Clock::time_point started) {
  Clock::time_point now = Clock::now();
  bool in_window = now >= window_->measure_start && now <= window_->measure_end;
  if (status.ok()) {
    ++calls_total_;
    if (in_window) {
      ++calls_in_window_;
      latencies_us_.push_back(std::chrono::duration<double, std::micro>(now - started).count());
    }
  } else {
    ++errors_;
    if (first_error_.empty()) {
      first_error_ = StatusText(status);
    }
  }
  if (now < window_->measure_end) {
    Issue();  // nothing may touch this client's call state after this
    return;
  }
  std::lock_guard<std::mutex> lock(window_->mu);
  if (--window_->running == 0) {
    window_->all_done.notify_all();
  }
}

ClosedLoopResult RunClosedLoop(const std::vector<std::unique_ptr<ClosedLoopClient>>& clients,
                               absl::Duration warmup, absl::Duration duration) {
  ClosedLoopWindow window;
  const Clock::time_point start = Clock::now();
  window.measure_start = start + absl::ToChronoNanoseconds(warmup);
  window.measure_end = window.measure_start + absl::ToChronoNanoseconds(duration);
  window.running = static_cast<int>(clients.size());
  for (const auto& c : clients) {
    c->Start(&window);
  }
  {
    std::unique_lock<std::mutex> lock(window.mu);
    window.all_done.wait(lock, [&] { return window.running == 0; });
  }

  ClosedLoopResult r;
  for (const auto& c : clients) {
    r.calls_in_window += c->calls_in_window();
    r.calls_total += c->calls_total();
    r.errors += c->errors();
    if (r.first_error.empty()) {
      r.first_error = c->first_error();
    }
    r.latencies_us.insert(r.latencies_us.end(), c->latencies_us().begin(), c->latencies_us().end());
  }
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  return r;
}

// --- the benchmark binaries ----------------------------------------------------------------------

void InitBenchBinary(int argc, char** argv) {
  server::DisableMutexDeadlockDetection();
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    config::DieOnBadConfig(
        absl::InvalidArgumentError(absl::StrCat("unexpected argument: ", positional[1])));
  }
}

int Fail(const absl::Status& status) {
  std::cerr << program_invocation_short_name << ": " << status << "\n";
  return 1;
}

absl::StatusOr<std::string> ReadCredentialFile(const std::string& flag, const std::string& path) {
  absl::StatusOr<std::string> secret = config::ReadSecret(flag, "", path);
  if (!secret.ok()) {
    return secret.status();
  }
  if (absl::Status s = config::ValidateNonEmpty(flag, *secret); !s.ok()) {
    return s;
  }
  return secret;
}

}  // namespace tahe::bench
