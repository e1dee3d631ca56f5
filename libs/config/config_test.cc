#include "libs/config/config.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"

ABSL_FLAG(std::string, test_listen, "127.0.0.1:0", "listen address");
ABSL_FLAG(int32_t, test_port, 0, "a port");
ABSL_FLAG(bool, test_verbose, false, "a boolean");
ABSL_FLAG(bool, test_tls, true, "a boolean that defaults to true");
ABSL_FLAG(std::string, notes, "", "a non-boolean flag whose name starts with 'no'");

namespace tahe::config {
namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    Set(value);
  }
  ~ScopedEnv() { Set(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void Set(const std::optional<std::string>& value) {
    if (value.has_value()) {
      setenv(name_.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

// argv for the functions under test; the strings live as long as this object.
class Args {
 public:
  Args(std::initializer_list<std::string> args) : storage_(args) {
    for (std::string& arg : storage_) {
      pointers_.push_back(arg.data());
    }
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(storage_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

// Puts the test flags back to their defaults at the end of a test. (absl::FlagSaver does the
// same, but logs every flag it restores.)
class ResetFlagsAtExit {
 public:
  ResetFlagsAtExit() = default;
  ~ResetFlagsAtExit() {
    absl::SetFlag(&FLAGS_test_listen, "127.0.0.1:0");
    absl::SetFlag(&FLAGS_test_port, 0);
    absl::SetFlag(&FLAGS_test_verbose, false);
    absl::SetFlag(&FLAGS_test_tls, true);
    absl::SetFlag(&FLAGS_notes, "");
  }
  ResetFlagsAtExit(const ResetFlagsAtExit&) = delete;
  ResetFlagsAtExit& operator=(const ResetFlagsAtExit&) = delete;
};

const std::vector<EnvFallback> kFallbacks = {
    {"test_listen", "TAHE_TEST_LISTEN"},
    {"test_port", "TAHE_TEST_PORT"},
    {"test_verbose", "TAHE_TEST_VERBOSE"},
};

bool Contains(absl::string_view text, absl::string_view part) {
  return absl::StrContains(text, part);
}

// ---------------------------------------------------------------------------------------------
// Flags and environment

TEST_CASE("FlagsOnCommandLine finds every spelling of a flag and skips values and positionals") {
  Args args = {"prog",
               "--test_listen=1.2.3.4:5",
               "--test_port",
               "8",
               "-test_verbose",
               "--notest_tls",
               "positional",
               "--notes=x",
               "--",
               "--test_timeout=5"};
  REQUIRE(
      FlagsOnCommandLine(args.argc(), args.argv()) ==
      std::vector<std::string>{"test_listen", "test_port", "test_verbose", "test_tls", "notes"});
}

TEST_CASE("FlagsOnCommandLine: a boolean flag does not take the next argument as its value") {
  Args args = {"prog", "--test_verbose", "--test_port=3", "-", "--unknown_flag", "x"};
  REQUIRE(FlagsOnCommandLine(args.argc(), args.argv()) ==
          std::vector<std::string>{"test_verbose", "test_port", "unknown_flag"});
}

TEST_CASE("FlagsOnCommandLine with no arguments is empty") {
  Args args = {"prog"};
  REQUIRE(FlagsOnCommandLine(args.argc(), args.argv()).empty());
}

TEST_CASE("an environment variable sets a flag that is not on the command line") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv listen("TAHE_TEST_LISTEN", "0.0.0.0:50051");
  ScopedEnv port("TAHE_TEST_PORT", "7000");
  ScopedEnv verbose("TAHE_TEST_VERBOSE", "true");
  REQUIRE(ApplyEnvFallbacks(kFallbacks, {}).ok());
  REQUIRE(absl::GetFlag(FLAGS_test_listen) == "0.0.0.0:50051");
  REQUIRE(absl::GetFlag(FLAGS_test_port) == 7000);
  REQUIRE(absl::GetFlag(FLAGS_test_verbose));
}

TEST_CASE("a flag on the command line wins over its environment variable") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv listen("TAHE_TEST_LISTEN", "0.0.0.0:50051");
  ScopedEnv port("TAHE_TEST_PORT", "7000");
  absl::SetFlag(&FLAGS_test_port, 1234);  // As if parsed from "--test_port=1234".
  REQUIRE(ApplyEnvFallbacks(kFallbacks, {"test_port"}).ok());
  REQUIRE(absl::GetFlag(FLAGS_test_port) == 1234);
  REQUIRE(absl::GetFlag(FLAGS_test_listen) == "0.0.0.0:50051");
}

TEST_CASE("an unset environment variable leaves the default, an empty one is applied") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv listen("TAHE_TEST_LISTEN", "");
  ScopedEnv port("TAHE_TEST_PORT", std::nullopt);
  ScopedEnv verbose("TAHE_TEST_VERBOSE", std::nullopt);
  REQUIRE(ApplyEnvFallbacks(kFallbacks, {}).ok());
  REQUIRE(absl::GetFlag(FLAGS_test_listen).empty());
  REQUIRE(absl::GetFlag(FLAGS_test_port) == 0);
  REQUIRE_FALSE(absl::GetFlag(FLAGS_test_verbose));
}

TEST_CASE("a bad environment value is INVALID_ARGUMENT naming the variable and the flag") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv port("TAHE_TEST_PORT", "seven");
  ScopedEnv verbose("TAHE_TEST_VERBOSE", "perhaps");
  absl::Status status = ApplyEnvFallbacks(kFallbacks, {});
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  // Both problems are reported at once.
  CHECK(Contains(status.message(), "environment TAHE_TEST_PORT (for --test_port)"));
  CHECK(Contains(status.message(), "environment TAHE_TEST_VERBOSE (for --test_verbose)"));
  REQUIRE(absl::GetFlag(FLAGS_test_port) == 0);
}

TEST_CASE("a bad environment value is ignored when the command line sets the flag") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv port("TAHE_TEST_PORT", "seven");
  REQUIRE(ApplyEnvFallbacks(kFallbacks, {"test_port"}).ok());
}

TEST_CASE("a fallback for an undefined flag is INTERNAL even when its variable is unset") {
  ScopedEnv unset("TAHE_NO_SUCH_FLAG", std::nullopt);
  absl::Status status = ApplyEnvFallbacks({{"no_such_flag", "TAHE_NO_SUCH_FLAG"}}, {});
  REQUIRE(status.code() == absl::StatusCode::kInternal);
  REQUIRE(Contains(status.message(), "--no_such_flag"));
}

TEST_CASE("ParseCommandLineWithEnv: command line first, then the environment") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv listen("TAHE_TEST_LISTEN", "0.0.0.0:50051");
  ScopedEnv port("TAHE_TEST_PORT", "7000");
  ScopedEnv verbose("TAHE_TEST_VERBOSE", "true");
  Args args = {"prog", "--test_port", "8080", "--notest_verbose"};
  REQUIRE(ParseCommandLineWithEnv(args.argc(), args.argv(), kFallbacks).ok());
  REQUIRE(absl::GetFlag(FLAGS_test_port) == 8080);
  REQUIRE_FALSE(absl::GetFlag(FLAGS_test_verbose));
  REQUIRE(absl::GetFlag(FLAGS_test_listen) == "0.0.0.0:50051");
}

TEST_CASE("ParseCommandLineWithEnv rejects positional arguments") {
  ResetFlagsAtExit reset_flags;
  Args args = {"prog", "test_port=1"};
  absl::Status status = ParseCommandLineWithEnv(args.argc(), args.argv(), kFallbacks);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Contains(status.message(), "\"test_port=1\""));
}

TEST_CASE("ParseCommandLineWithEnv reports bad environment values") {
  ResetFlagsAtExit reset_flags;
  ScopedEnv port("TAHE_TEST_PORT", "99999999999");
  Args args = {"prog"};
  absl::Status status = ParseCommandLineWithEnv(args.argc(), args.argv(), kFallbacks);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Contains(status.message(), "TAHE_TEST_PORT"));
}

// ---------------------------------------------------------------------------------------------
// Validators

TEST_CASE("ValidateHostPort accepts host:port with names, IPv4 and bracketed IPv6") {
  for (const char* value :
       {"127.0.0.1:0", "0.0.0.0:50051", "localhost:65535", "db.internal:5432", "my_db:5432",
        "tahe-ledger.tahe.svc.cluster.local:443", "[::1]:50051", "[::]:0", "[fe80::1%eth0]:80",
        "[2001:db8::ff00:42:8329]:8080", "[::ffff:192.0.2.1]:1", "host:00080"}) {
    CAPTURE(value);
    REQUIRE(ValidateHostPort("--listen", value).ok());
  }
}

TEST_CASE("ValidateHostPort rejects other text, naming the setting") {
  for (const char* value : {"",
                            "localhost",
                            ":50051",
                            "localhost:",
                            "localhost:65536",
                            "localhost:-1",
                            "localhost:80a",
                            "localhost:123456",
                            "::1:50051",
                            "[::1]",
                            "[::1]50051",
                            "[::1:50051",
                            "[]:80",
                            "[localhost]:80",
                            "[fe80::1%]:80",
                            "host name:80",
                            "-host:80",
                            ".host:80",
                            "unix:/tmp/socket",
                            "http://localhost:80",
                            "localhost:80 "}) {
    CAPTURE(value);
    absl::Status status = ValidateHostPort("--listen", value);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(absl::StartsWith(status.message(), "--listen: "));
  }
}

TEST_CASE("ValidateNonEmpty rejects empty and blank values") {
  REQUIRE(ValidateNonEmpty("--name", "ledger").ok());
  REQUIRE(ValidateNonEmpty("--name", " x ").ok());
  for (const char* value : {"", " ", "\t\n"}) {
    absl::Status status = ValidateNonEmpty("TAHE_NAME", value);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(status.message() == "TAHE_NAME: must not be empty");
  }
}

TEST_CASE("ValidateRange is inclusive at both ends") {
  REQUIRE(ValidateRange("--workers", 1, 1, 64).ok());
  REQUIRE(ValidateRange("--workers", 64, 1, 64).ok());
  REQUIRE(ValidateRange("--workers", INT64_MIN, INT64_MIN, INT64_MAX).ok());
  absl::Status low = ValidateRange("--workers", 0, 1, 64);
  REQUIRE(low.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(low.message() == "--workers: 0 is outside 1..64");
  REQUIRE(ValidateRange("--workers", 65, 1, 64).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ValidatePostgresUrl accepts URIs and key=value conninfo") {
  for (const char* value :
       {"postgresql://", "postgresql://tahe:secret@db:5432/tahe?sslmode=require",
        "postgres://localhost/tahe", "postgresql:///tahe?host=/var/run/postgresql",
        "host=db port=5432 dbname=tahe", "dbname=tahe", " host = db  user=tahe ",
        "password='a b\\' c' host=db", "host=db password=a\\ b"}) {
    CAPTURE(value);
    REQUIRE(ValidatePostgresUrl("--database_url", value).ok());
  }
}

TEST_CASE("ValidatePostgresUrl rejects other text without echoing it") {
  for (const char* value : {"", "   ", "hunter2", "db:5432", "host=db port", "=db", "host='db",
                            "mysql://user:hunter2@db/tahe", "postgresql://db /tahe",
                            "http://hunter2@db", "://hunter2"}) {
    CAPTURE(value);
    absl::Status status = ValidatePostgresUrl("--database_url", value);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(absl::StartsWith(status.message(), "--database_url: "));
    REQUIRE_FALSE(Contains(status.message(), "hunter2"));
  }
  REQUIRE(Contains(ValidatePostgresUrl("--database_url", "mysql://db").message(), "\"mysql\""));
}

// ---------------------------------------------------------------------------------------------
// Secrets

class TempFile {
 public:
  explicit TempFile(absl::string_view content) {
    std::string pattern = (std::filesystem::temp_directory_path() / "tahe_config_test_XXXXXX");
    int fd = mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    close(fd);
    path_ = pattern;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_CASE("ReadSecret returns the value when no file is given") {
  REQUIRE(ReadSecret("--token", "abc", "").value() == "abc");
  REQUIRE(ReadSecret("--token", "", "").value().empty());
}

TEST_CASE("ReadSecret reads the file, trimmed, in preference to the value") {
  TempFile file("  s3cret\n\n");
  REQUIRE(ReadSecret("--token", "ignored", file.path()).value() == "s3cret");
  TempFile inner_space("pass word\r\n");
  REQUIRE(ReadSecret("--token", "", inner_space.path()).value() == "pass word");
}

TEST_CASE("ReadSecret: a blank file is an error naming the setting") {
  TempFile file(" \n\t");
  absl::Status status = ReadSecret("--token", "", file.path()).status();
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(absl::StartsWith(status.message(), "--token: "));
  REQUIRE(Contains(status.message(), file.path()));
}

TEST_CASE("ReadSecret: a missing or unreadable file is an error naming setting and path") {
  std::string missing = (std::filesystem::temp_directory_path() / "tahe_no_such_secret").string();
  absl::Status status = ReadSecret("TAHE_TOKEN_FILE", "fallback", missing).status();
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(absl::StartsWith(status.message(), "TAHE_TOKEN_FILE: "));
  REQUIRE(Contains(status.message(), missing));

  std::string directory = std::filesystem::temp_directory_path().string();
  REQUIRE(ReadSecret("--token", "", directory).status().code() ==
          absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Dying on bad configuration

TEST_CASE("BadConfigLogLine is one JSON line with the code and message") {
  REQUIRE(
      BadConfigLogLine(absl::InvalidArgumentError("--listen: \"x\" is not host:port")) ==
      R"({"level":"fatal","msg":"bad configuration","error":"INVALID_ARGUMENT: --listen: \"x\" is not host:port"})");
}

TEST_CASE("BadConfigLogLine escapes control characters and invalid UTF-8") {
  std::string message = "a\\b\nc\td\x01 \xc3\xa4 \xff";
  REQUIRE(BadConfigLogLine(absl::InternalError(message)) ==
          R"({"level":"fatal","msg":"bad configuration","error":"INTERNAL: a\\b\nc\td\u0001 )"
          "\xc3\xa4"
          R"( \ufffd"})");
}

// Runs `body` in a child process; returns its exit code and what it wrote to stderr.
std::pair<int, std::string> RunInChild(void (*body)()) {
  // Otherwise the child's exit() would flush a copy of the test runner's pending output.
  std::fflush(nullptr);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    body();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string output;
  char buffer[256];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
    output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int wait_status = 0;
  REQUIRE(waitpid(pid, &wait_status, 0) == pid);
  REQUIRE(WIFEXITED(wait_status));
  return {WEXITSTATUS(wait_status), output};
}

TEST_CASE("DieOnBadConfig prints the JSON line to stderr and exits with code 2") {
  auto [code, output] = RunInChild([] { DieOnBadConfig(absl::InvalidArgumentError("boom")); });
  REQUIRE(code == 2);
  REQUIRE(output ==
          "{\"level\":\"fatal\",\"msg\":\"bad configuration\",\"error\":\"INVALID_ARGUMENT: "
          "boom\"}\n");
}

TEST_CASE("ExitIfError exits only on an error") {
  auto [ok_code, ok_output] = RunInChild([] { ExitIfError(absl::OkStatus()); });
  REQUIRE(ok_code == 0);
  REQUIRE(ok_output.empty());
  auto [error_code, error_output] =
      RunInChild([] { ExitIfError(absl::FailedPreconditionError("no")); });
  REQUIRE(error_code == 2);
  REQUIRE(Contains(error_output, "FAILED_PRECONDITION: no"));
}

}  // namespace
}  // namespace tahe::config
