#include "libs/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/log/log.h"
#include "libs/status/status.h"

namespace tahe::config {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(absl::string_view text, bool (*predicate)(char)) {
  return std::all_of(text.begin(), text.end(), predicate);
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6AddressChar(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

bool IsZoneChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// The inside of "[...]": an IPv6 address, optionally with a "%zone" suffix.
bool IsBracketedHost(absl::string_view host) {
  size_t percent = host.find('%');
  absl::string_view address = host.substr(0, percent);
  if (address.find(':') == absl::string_view::npos || !AllOf(address, IsIpv6AddressChar)) {
    return false;
  }
  if (percent == absl::string_view::npos) {
    return true;
  }
  absl::string_view zone = host.substr(percent + 1);
  return !zone.empty() && AllOf(zone, IsZoneChar);
}

absl::Status ValidatePort(absl::string_view setting, absl::string_view value,
                          absl::string_view port) {
  if (port.empty() || port.size() > 5 || !AllOf(port, IsDigit)) {
    return InvalidField(setting, absl::StrCat("port in \"", value, "\" must be a number 0..65535"));
  }
  int number = 0;
  for (char digit : port) {
    number = number * 10 + (digit - '0');
  }
  if (number > 65535) {
    return InvalidField(setting,
                        absl::StrCat("port ", number, " in \"", value, "\" is above 65535"));
  }
  return absl::OkStatus();
}

bool IsConninfoSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

bool IsConninfoKeywordChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Checks libpq's "keyword = value ..." syntax. Problems are reported by position only: the text
// may contain a password.
absl::Status ValidateConninfo(absl::string_view setting, absl::string_view text) {
  auto problem = [&setting](absl::string_view what, size_t index) {
    return InvalidField(setting, absl::StrCat("not a PostgreSQL URI or key=value conninfo: ", what,
                                              " at character ", index + 1));
  };
  size_t i = 0;
  auto skip_spaces = [&] {
    while (i < text.size() && IsConninfoSpace(text[i])) {
      ++i;
    }
  };
  int pairs = 0;
  for (skip_spaces(); i < text.size(); skip_spaces()) {
    size_t keyword_start = i;
    while (i < text.size() && IsConninfoKeywordChar(text[i])) {
      ++i;
    }
    if (i == keyword_start) {
      return problem("expected a keyword", i);
    }
    skip_spaces();
    if (i == text.size() || text[i] != '=') {
      return problem("expected '=' after the keyword", i);
    }
    ++i;
    skip_spaces();
    if (i < text.size() && text[i] == '\'') {
      size_t quote = i++;
      while (i < text.size() && text[i] != '\'') {
        i += text[i] == '\\' ? 2 : 1;
      }
      if (i >= text.size()) {
        return problem("unterminated quoted value", quote);
      }
      ++i;
    } else {
      while (i < text.size() && !IsConninfoSpace(text[i])) {
        i += text[i] == '\\' ? 2 : 1;
      }
    }
    ++pairs;
  }
  if (pairs == 0) {
    return InvalidField(setting, "must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> FlagsOnCommandLine(int argc, char** argv) {
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      continue;  // Positional, including a lone "-".
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    size_t equals = arg.find('=');
    absl::string_view name = arg.substr(0, equals);
    bool has_inline_value = equals != absl::string_view::npos;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_inline_value && absl::StartsWith(name, "no")) {
      const absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        names.emplace_back(name.substr(2));
        continue;
      }
    }
    names.emplace_back(name);
    if (flag != nullptr && !has_inline_value && !flag->IsOfType<bool>()) {
      ++i;  // "--name value": the next argument is the value, not a flag.
    }
  }
  return names;
}

absl::Status ApplyEnvFallbacks(const std::vector<EnvFallback>& fallbacks,
                               const std::vector<std::string>& explicitly_set_flags) {
  std::vector<std::string> errors;
  for (const EnvFallback& fallback : fallbacks) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(fallback.flag_name);
    if (flag == nullptr) {
      return absl::InternalError(absl::StrCat("environment ", fallback.env_var, ": no flag --",
                                              fallback.flag_name, " is defined in this program"));
    }
    if (std::find(explicitly_set_flags.begin(), explicitly_set_flags.end(), fallback.flag_name) !=
        explicitly_set_flags.end()) {
      continue;
    }
    const char* value = std::getenv(fallback.env_var.c_str());
    if (value == nullptr) {
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      errors.push_back(absl::StrCat("environment ", fallback.env_var, " (for --",
                                    fallback.flag_name, "): ", error));
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  }
  return absl::OkStatus();
}

absl::Status ParseCommandLineWithEnv(int argc, char** argv,
                                     const std::vector<EnvFallback>& fallbacks) {
  // Read argv before absl parses it: afterwards every flag looks set.
  std::vector<std::string> explicitly_set = FlagsOnCommandLine(argc, argv);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {  // positional[0] is the program name.
    std::vector<absl::string_view> extra(positional.begin() + 1, positional.end());
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected command-line arguments (not flags): \"", absl::StrJoin(extra, "\" \""), "\""));
  }
  return ApplyEnvFallbacks(fallbacks, explicitly_set);
}

absl::Status ValidateHostPort(absl::string_view setting, absl::string_view value) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(value, "[")) {
    size_t close = value.find(']');
    if (close == absl::string_view::npos || !IsBracketedHost(value.substr(1, close - 1))) {
      return InvalidField(setting,
                          absl::StrCat("\"", value, "\" has no valid IPv6 address in [ ]"));
    }
    if (close + 1 >= value.size() || value[close + 1] != ':') {
      return InvalidField(setting, absl::StrCat("\"", value, "\" has no :port after the ]"));
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    size_t colon = value.rfind(':');
    if (colon == absl::string_view::npos) {
      return InvalidField(setting,
                          absl::StrCat("\"", value, "\" is not host:port, like 127.0.0.1:50051"));
    }
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return InvalidField(setting, absl::StrCat("\"", value,
                                                "\": an IPv6 host must be in brackets, like "
                                                "[::1]:50051"));
    }
    if (host.empty()) {
      return InvalidField(setting, absl::StrCat("\"", value,
                                                "\" has no host; use 0.0.0.0 or [::] for every "
                                                "interface"));
    }
    if (!AllOf(host, IsHostNameChar) || host.front() == '.' || host.front() == '-') {
      return InvalidField(setting, absl::StrCat("\"", value, "\" has an invalid host name"));
    }
  }
  return ValidatePort(setting, value, port);
}

absl::Status ValidateNonEmpty(absl::string_view setting, absl::string_view value) {
  if (absl::StripAsciiWhitespace(value).empty()) {
    return InvalidField(setting, "must not be empty");
  }
  return absl::OkStatus();
}

absl::Status ValidateRange(absl::string_view setting, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return InvalidField(setting, absl::StrCat(value, " is outside ", lo, "..", hi));
  }
  return absl::OkStatus();
}

absl::Status ValidatePostgresUrl(absl::string_view setting, absl::string_view value) {
  if (absl::StartsWith(value, "postgresql://") || absl::StartsWith(value, "postgres://")) {
    if (std::any_of(value.begin(), value.end(), [](char c) {
          return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
                 absl::ascii_iscntrl(static_cast<unsigned char>(c));
        })) {
      return InvalidField(setting, "a PostgreSQL URI must not contain whitespace");
    }
    return absl::OkStatus();
  }
  size_t scheme_end = value.find("://");
  if (scheme_end != absl::string_view::npos) {
    absl::string_view scheme = value.substr(0, scheme_end);
    bool printable = !scheme.empty() && scheme.size() <= 20 && AllOf(scheme, [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
    return InvalidField(setting, absl::StrCat("unsupported URI scheme",
                                              printable ? absl::StrCat(" \"", scheme, "\"") : "",
                                              "; expected postgresql:// or postgres://"));
  }
  return ValidateConninfo(setting, value);
}

absl::StatusOr<std::string> ReadSecret(absl::string_view setting, absl::string_view value,
                                       absl::string_view file_path) {
  if (file_path.empty()) {
    return std::string(value);
  }
  std::string path(file_path);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr) {
    return InvalidField(setting,
                        absl::StrCat("cannot open secret file ", path, ": ", std::strerror(errno)));
  }
  std::string content;
  char buffer[4096];
  size_t read;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    content.append(buffer, read);
  }
  if (std::ferror(file.get())) {
    return InvalidField(setting,
                        absl::StrCat("cannot read secret file ", path, ": ", std::strerror(errno)));
  }
  absl::string_view secret = absl::StripAsciiWhitespace(content);
  if (secret.empty()) {
    return InvalidField(setting, absl::StrCat("secret file ", path, " is empty"));
  }
  return std::string(secret);
}

std::string BadConfigLogLine(const absl::Status& status) {
  return absl::StrCat(
      R"({"level":"fatal","msg":"bad configuration","error":)",
      log::JsonQuote(absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message())),
      "}");
}

void DieOnBadConfig(const absl::Status& status) {
  std::string line = BadConfigLogLine(status);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  std::exit(2);
}

void ExitIfError(const absl::Status& status) {
  if (!status.ok()) {
    DieOnBadConfig(status);
  }
}

}  // namespace tahe::config
