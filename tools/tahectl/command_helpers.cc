#include "tools/tahectl/command_helpers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string Plural(int64_t count, absl::string_view one, absl::string_view many) {
  return absl::StrCat(count, " ", count == 1 ? one : many);
}

std::string RequestIdOf(const Args& args) {
  if (std::optional<std::string> id = args.Value("request-id"); id.has_value() && !id->empty()) {
    return *id;
  }
  return NewRequestId();
}

absl::StatusOr<std::string> ReadInput(absl::string_view setting, const std::string& path,
                                      std::istream& in) {
  std::stringstream contents;
  if (path == "-") {
    contents << in.rdbuf();
    return contents.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return UsageError(absl::StrCat(setting, ": cannot read ", path));
  }
  contents << file.rdbuf();
  return contents.str();
}

absl::Status ParseJsonInput(const std::string& path, absl::string_view text, absl::string_view what,
                            google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), message, options);
  if (!status.ok()) {
    return UsageError(absl::StrCat(path == "-" ? "(stdin)" : path, ": not a JSON ", what, ": ",
                                   std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status FileProblems(absl::string_view path, const std::vector<CsvProblem>& problems) {
  std::string message = absl::StrCat(path, ": ", Plural(problems.size(), "problem", "problems"),
                                     ", nothing was imported:");
  for (size_t i = 0; i < problems.size() && i < kMaxProblemsShown; ++i) {
    absl::StrAppend(&message, "\n  ", FormatCsvProblem(problems[i]));
  }
  if (problems.size() > kMaxProblemsShown) {
    absl::StrAppend(&message, "\n  ... and ", problems.size() - kMaxProblemsShown, " more");
  }
  return UsageError(message);
}

absl::Status CreateAndWrite(const std::string& path, absl::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("--out: ", path, " already exists; not overwriting it"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("--out: cannot create ", path, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", reason));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const std::string reason = std::strerror(synced ? errno : sync_errno);
    ::unlink(path.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", reason));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> DurationOption(const Args& args, absl::string_view name,
                                              absl::Duration fallback) {
  std::optional<std::string> text = args.Value(name);
  if (!text.has_value()) {
    return fallback;
  }
  absl::StatusOr<absl::Duration> parsed = ParseTimeout(*text);
  if (!parsed.ok()) {
    absl::string_view message = parsed.status().message();
    absl::ConsumePrefix(&message, "--timeout");
    return UsageError(absl::StrCat("--", name, message));
  }
  return parsed;
}

absl::StatusOr<std::string> RequiredOption(const Args& args, absl::string_view command,
                                           absl::string_view name) {
  std::optional<std::string> value = args.Value(name);
  if (!value.has_value() || value->empty()) {
    return UsageError(absl::StrCat(command, ": --", name, " is required"));
  }
  return *value;
}

}  // namespace tahe::tahectl
