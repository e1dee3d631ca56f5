#pragma once

// Pieces shared by tahectl's service commands (payroll_commands.h, invoicing_commands.h): reading
// options and input files before anything is called, reporting a file's problems as one usage
// error, writing an output file without ever overwriting one, naming enum values for people, and
// handing the result of a long call from its thread to the one that draws its progress.
//
//   ASSIGN_OR_RETURN(std::string text, ReadInput("invoicing customers import", path, std::cin));
//   ASSIGN_OR_RETURN(std::string date, RequiredOption(args, "invoicing invoice issue", "date"));
//   RETURN_IF_ERROR(AsUsage(ParseDate("--date", date)).status());
//   request.set_request_id(RequestIdOf(args));   // --request-id, else a fresh random one

#include <grpcpp/client_context.h>

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/csv.h"
#include "tools/tahectl/format.h"

namespace tahe::tahectl {

// Where a service command writes.
struct CommandOutput {
  std::ostream& out;
  // Progress and notes; never the result.
  std::ostream& err;
  OutputFormat format = OutputFormat::kTable;
  // `err` is a terminal: a progress bar redraws one line instead of printing lines.
  bool err_is_terminal = false;
  // How often a long operation's status is polled when the service cannot stream its progress,
  // and how often a command that waits for a ledger posting looks again.
  absl::Duration poll_interval = absl::Seconds(1);
};

// How many of a file's problems a usage error lists.
inline constexpr size_t kMaxProblemsShown = 50;

// "CALCULATED" for PAY_RUN_STATUS_CALCULATED: the name without `prefix`; the number when the
// value has no name.
template <typename Enum>
std::string EnumName(const std::string& full, absl::string_view prefix, Enum value) {
  absl::string_view name = full;
  if (!absl::ConsumePrefix(&name, prefix) || name.empty()) {
    return absl::StrCat(static_cast<int>(value));
  }
  return std::string(name);
}

// "-" for empty text, for table cells.
std::string OrDash(const std::string& text);

// "1 payslip", "3 payslips".
std::string Plural(int64_t count, absl::string_view one, absl::string_view many);

// --request-id when given and not empty, else NewRequestId().
std::string RequestIdOf(const Args& args);

// The whole content of `path`, or of `in` for "-". A usage error naming `setting` when the file
// cannot be read.
absl::StatusOr<std::string> ReadInput(absl::string_view setting, const std::string& path,
                                      std::istream& in);

// `text` (read from `path`; "-" is stdin) in protobuf's JSON mapping into `message`, unknown
// fields refused; a usage error "PATH: not a JSON WHAT: ..." otherwise.
absl::Status ParseJsonInput(const std::string& path, absl::string_view text, absl::string_view what,
                            google::protobuf::Message* message);

// A message in the JSON mapping, read whole from `path` (- = stdin); a usage error naming the
// file and what it should hold otherwise.
template <typename Message>
absl::StatusOr<Message> JsonFile(absl::string_view command, const std::string& path,
                                 absl::string_view what, std::istream& in) {
  absl::StatusOr<std::string> json = ReadInput(command, path, in);
  if (!json.ok()) {
    return json.status();
  }
  Message message;
  if (absl::Status s = ParseJsonInput(path, *json, what, &message); !s.ok()) {
    return s;
  }
  return message;
}

// A file's problems as one usage error, at most kMaxProblemsShown of them:
// "PATH: 2 problems, nothing was imported:\n  row 3, column x: ...".
absl::Status FileProblems(absl::string_view path, const std::vector<CsvProblem>& problems);

// Creates `path` (mode 0640) and writes `content` to it: never over an existing file (O_EXCL
// also refuses a symlink in its place); all of it or the file is removed again.
// FAILED_PRECONDITION "--out: PATH already exists; not overwriting it".
absl::Status CreateAndWrite(const std::string& path, absl::string_view content);

// A duration option (--wait-timeout), else `fallback`. A usage error naming the option.
absl::StatusOr<absl::Duration> DurationOption(const Args& args, absl::string_view name,
                                              absl::Duration fallback);

// A required option's value; a usage error naming the command when it is missing or empty.
absl::StatusOr<std::string> RequiredOption(const Args& args, absl::string_view command,
                                           absl::string_view name);

// `parsed`, with an error marked as a usage error.
template <typename T>
absl::StatusOr<T> AsUsage(absl::StatusOr<T> parsed) {
  if (!parsed.ok()) {
    return UsageError(parsed.status());
  }
  return parsed;
}

// How long a progress stream may take to end by itself once the long call it follows has
// returned (the service ends it when the work is settled) before it is cancelled: cancelling at
// once would drop the last reports still on their way.
inline constexpr absl::Duration kProgressDrainGrace = absl::Seconds(2);

// The result of a long call made on a thread of its own, handed to the thread that follows the
// call's progress stream; when the call returns it also ends that stream if it outlives the call
// by more than kProgressDrainGrace.
//
//   CallOutcome<v1::PayRun> outcome;
//   std::thread call([&] { outcome.Set(client.CalculatePayRun(request, wait)); });
//   if (outcome.Attach(context.get())) { ... read the stream ...; outcome.Detach(); }
//   call.join();
//   absl::StatusOr<v1::PayRun> result = outcome.Take();
template <typename Result>
class CallOutcome {
 public:
  void Set(absl::StatusOr<Result> result) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(result);
    done_ = true;
    const auto detached = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watch_ == nullptr; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&detached), kProgressDrainGrace)) {
      watch_->TryCancel();
    }
  }
  // `watch` is cancelled when the call returns; false if it already has.
  bool Attach(grpc::ClientContext* watch) {
    absl::MutexLock lock(&mu_);
    if (done_) {
      return false;
    }
    watch_ = watch;
    return true;
  }
  void Detach() {
    absl::MutexLock lock(&mu_);
    watch_ = nullptr;
  }
  // True once Set was called; waits at most `timeout` for it.
  bool WaitFor(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  absl::StatusOr<Result> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(result_);
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::StatusOr<Result> result_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("not finished");
  grpc::ClientContext* watch_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace tahe::tahectl
