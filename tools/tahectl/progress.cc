#include "tools/tahectl/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tahe::tahectl {

namespace {

constexpr int kBarWidth = 20;
constexpr absl::Duration kRedrawInterval = absl::Milliseconds(100);

int64_t Percent(int64_t done, int64_t total) {
  return total > 0 ? std::clamp<int64_t>(done * 100 / total, 0, 100) : 0;
}

}  // namespace

ProgressBar::ProgressBar(std::ostream& out, bool terminal, std::string unit)
    : out_(out), terminal_(terminal), unit_(std::move(unit)) {}

void ProgressBar::Update(absl::string_view phase, int64_t done, int64_t total,
                         absl::string_view message) {
  const bool changed =
      !updated_ || phase != phase_ || message != message_ || done != done_ || total != total_;
  updated_ = true;
  if (!changed) {
    return;
  }
  phase_ = std::string(phase);
  message_ = std::string(message);
  done_ = done;
  total_ = total;
  if (terminal_) {
    drawn_current_ = false;
    if (absl::Now() - drawn_at_ >= kRedrawInterval) {
      DrawTerminal();
    }
    return;
  }
  const int64_t tenth = total_ > 0 ? std::clamp<int64_t>(done_ * 10 / total_, 0, 10) : -1;
  if (tenth < printed_tenth_ && total_ > 0) {
    printed_tenth_ = -1;  // counting again from lower down (a new calculation)
  }
  printed_current_ = false;
  if (phase_ != printed_phase_ || message_ != printed_message_ || tenth > printed_tenth_) {
    out_ << PlainLine() << "\n";
    out_.flush();
    printed_phase_ = phase_;
    printed_message_ = message_;
    printed_tenth_ = tenth;
    printed_current_ = true;
  }
}

void ProgressBar::Finish() {
  if (!updated_) {
    return;
  }
  if (terminal_) {
    if (!drawn_current_) {
      DrawTerminal();
    }
    if (line_open_) {
      out_ << "\n";
      out_.flush();
      line_open_ = false;
    }
    return;
  }
  if (!printed_current_) {
    out_ << PlainLine() << "\n";
    out_.flush();
    printed_current_ = true;
  }
}

std::string ProgressBar::PlainLine() const {
  std::string line = phase_;
  if (total_ > 0) {
    absl::StrAppend(&line, ": ", done_, "/", total_, " ", unit_, " (", Percent(done_, total_),
                    "%)");
  }
  if (!message_.empty()) {
    absl::StrAppend(&line, total_ > 0 ? " " : ": ", message_);
  }
  return line;
}

void ProgressBar::DrawTerminal() {
  std::string line = phase_;
  if (total_ > 0) {
    const int filled =
        static_cast<int>(std::clamp<int64_t>(done_ * kBarWidth / total_, 0, kBarWidth));
    absl::StrAppend(&line, " [", std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                    "] ", absl::StrFormat("%6d/%d", done_, total_), " ", unit_, " ",
                    absl::StrFormat("%3d%%", Percent(done_, total_)));
  }
  absl::StrAppend(&line, "  ", absl::ToInt64Seconds(absl::Now() - started_), "s");
  if (!message_.empty()) {
    absl::StrAppend(&line, "  ", message_);
  }
  // Spaces over whatever the previous, longer line left behind.
  const size_t width = line.size();
  if (width < drawn_width_) {
    line.append(drawn_width_ - width, ' ');
  }
  out_ << "\r" << line;
  out_.flush();
  drawn_width_ = width;
  drawn_current_ = true;
  drawn_at_ = absl::Now();
  line_open_ = true;
}

}  // namespace tahe::tahectl
