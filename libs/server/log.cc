#include "libs/server/log.h"

#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tahe::log {
namespace {

std::mutex& ServiceMutex() {
  static std::mutex mu;
  return mu;
}
std::string& ServiceName() {
  static std::string* name = new std::string;
  return *name;
}

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void Write(absl::string_view level, absl::string_view message, const Fields& fields) {
  std::string line = FormatLine(level, message, fields);
  line.push_back('\n');
  fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

std::string JsonQuote(absl::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

void SetServiceName(absl::string_view service) {
  std::lock_guard<std::mutex> lock(ServiceMutex());
  ServiceName() = std::string(service);
}

std::string FormatLine(absl::string_view level, absl::string_view message, const Fields& fields) {
  std::string line = "{\"ts\":";
  AppendJsonString(&line,
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  line.append(",\"level\":");
  AppendJsonString(&line, level);
  {
    std::lock_guard<std::mutex> lock(ServiceMutex());
    if (!ServiceName().empty()) {
      line.append(",\"service\":");
      AppendJsonString(&line, ServiceName());
    }
  }
  line.append(",\"msg\":");
  AppendJsonString(&line, message);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    AppendJsonString(&line, key);
    line.push_back(':');
    AppendJsonString(&line, value);
  }
  line.push_back('}');
  return line;
}

void Info(absl::string_view message, const Fields& fields) { Write("info", message, fields); }
void Warn(absl::string_view message, const Fields& fields) { Write("warn", message, fields); }
void Error(absl::string_view message, const Fields& fields) { Write("error", message, fields); }

}  // namespace tahe::log
