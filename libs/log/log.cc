#include "libs/log/log.h"

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

// Appends `text` as the inside of a JSON string. Invalid UTF-8 becomes U+FFFD so that the line
// stays valid JSON whatever bytes an error message carries.
void AppendJsonEscaped(absl::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      switch (byte) {
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
          if (byte < 0x20 || byte == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\u%04x", byte);
            out->append(escaped);
          } else {
            out->push_back(static_cast<char>(byte));
          }
      }
      ++i;
      continue;
    }
    size_t length = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0;
    bool valid = length != 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (valid) {
      out->append(text.data() + i, length);
      i += length;
    } else {
      out->append("\\ufffd");
      ++i;
    }
  }
}

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  AppendJsonEscaped(text, out);
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
