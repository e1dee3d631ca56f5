#pragma once

// Progress of a long call on stderr. On a terminal: one line redrawn in place with '\r' (at most
// ten times a second, and always the last state):
//
//   calculating [########............]   412/1000 payslips  41%  3s
//
// Anywhere else (a log, CI): plain lines, one when the phase or its message changes and one each
// time another tenth of the work is done, so that a log of a 10 000 payslip run stays short:
//
//   calculating: 100/1000 payslips (10%)
//
//   ProgressBar bar(std::cerr, isatty(2), "payslips");
//   bar.Update("calculating", 412, 1000, "");
//   bar.Finish();

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tahe::tahectl {

class ProgressBar {
 public:
  // `unit` names what is counted ("payslips").
  ProgressBar(std::ostream& out, bool terminal, std::string unit);

  // `done` of `total` (0 = not known yet) in `phase` ("calculating"), with an optional message
  // from the service.
  void Update(absl::string_view phase, int64_t done, int64_t total, absl::string_view message);

  // Draws the last state if it is not on screen yet and ends the line on a terminal. Idempotent.
  void Finish();

 private:
  void DrawTerminal();
  std::string PlainLine() const;

  std::ostream& out_;
  const bool terminal_;
  const std::string unit_;
  const absl::Time started_ = absl::Now();

  std::string phase_;
  std::string message_;
  int64_t done_ = 0;
  int64_t total_ = 0;
  bool updated_ = false;

  // Terminal: what the current line shows and when it was drawn.
  size_t drawn_width_ = 0;
  bool drawn_current_ = false;
  absl::Time drawn_at_ = absl::InfinitePast();
  bool line_open_ = false;
  // Plain: what was printed last.
  std::string printed_phase_;
  std::string printed_message_;
  int64_t printed_tenth_ = -1;
  bool printed_current_ = false;
};

}  // namespace tahe::tahectl
