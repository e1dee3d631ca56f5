#pragma once

// Structured logs: one JSON object a line on stderr, with time, level, message, and the request
// id and tenant when known. Never pass personal data (identity codes, bank accounts, salaries,
// names) as a field: log ids and counts instead.
//
//   tahe::log::Info("ledger listening", {{"port", "50051"}});
//   tahe::log::Error("post failed", call.LogFields({{"error", status.ToString()}}));

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tahe::log {

using Fields = std::vector<std::pair<std::string, std::string>>;

void Info(absl::string_view message, const Fields& fields = {});
void Warn(absl::string_view message, const Fields& fields = {});
void Error(absl::string_view message, const Fields& fields = {});

// The JSON line without writing it (for tests).
std::string FormatLine(absl::string_view level, absl::string_view message, const Fields& fields);

// `text` as a JSON string literal, quotes included ("a\"b").
std::string JsonQuote(absl::string_view text);

// Sets the "service" field added to every line.
void SetServiceName(absl::string_view service);

}  // namespace tahe::log
