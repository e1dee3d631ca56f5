#include "tests/fault/fault_load_lib.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace tahe::fault {
namespace {

std::string OneField(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\t", " "}, {"\n", " "}, {"\r", " "}});
}

absl::Status BadLine(absl::string_view what, absl::string_view line) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", line.substr(0, 200)));
}

}  // namespace

absl::string_view AckStatusName(AckStatus status) {
  switch (status) {
    case AckStatus::kAcknowledged:
      return "ack";
    case AckStatus::kUnacknowledged:
      return "unacked";
    case AckStatus::kFailed:
      return "failed";
  }
  return "unacked";
}

std::string FormatAckLine(const AckRecord& r) {
  return absl::StrCat(AckStatusName(r.status), "\t", OneField(r.tenant), "\t",
                      OneField(r.request_id), "\t", r.sequence, "\t", r.attempts, "\t",
                      r.replayed ? 1 : 0, "\t", OneField(r.detail));
}

absl::StatusOr<AckRecord> ParseAckLine(absl::string_view line) {
  std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
  if (f.size() != 7) {
    return BadLine("an ack line needs 7 tab-separated fields", line);
  }
  AckRecord r;
  if (f[0] == "ack") {
    r.status = AckStatus::kAcknowledged;
  } else if (f[0] == "unacked") {
    r.status = AckStatus::kUnacknowledged;
  } else if (f[0] == "failed") {
    r.status = AckStatus::kFailed;
  } else {
    return BadLine("unknown ack status", line);
  }
  r.tenant = std::string(f[1]);
  r.request_id = std::string(f[2]);
  int replayed = 0;
  if (r.tenant.empty() || r.request_id.empty() || !absl::SimpleAtoi(f[3], &r.sequence) ||
      !absl::SimpleAtoi(f[4], &r.attempts) || !absl::SimpleAtoi(f[5], &replayed)) {
    return BadLine("bad ack line", line);
  }
  if (r.status == AckStatus::kAcknowledged && r.sequence <= 0) {
    return BadLine("an acknowledgement without a sequence", line);
  }
  r.replayed = replayed != 0;
  r.detail = std::string(f[6]);
  return r;
}

bool IsRetryableCode(int grpc_code) {
  switch (grpc_code) {
    // absl::StatusCode has gRPC's numbers.
    case static_cast<int>(absl::StatusCode::kUnavailable):
    case static_cast<int>(absl::StatusCode::kDeadlineExceeded):
    // The gateway's rate limit, and a transaction the server gave up on: both say "try again".
    case static_cast<int>(absl::StatusCode::kResourceExhausted):
    case static_cast<int>(absl::StatusCode::kAborted):
      return true;
    default:
      return false;
  }
}

AckSummary Summarise(const std::vector<AckRecord>& records) {
  AckSummary s;
  for (const AckRecord& r : records) {
    ++s.attempted;
    s.calls += r.attempts;
    if (r.attempts > 1) {
      ++s.retried;
    }
    switch (r.status) {
      case AckStatus::kAcknowledged:
        ++s.acknowledged;
        ++s.acknowledged_by_tenant[r.tenant];
        if (r.replayed) {
          ++s.replayed;
        }
        break;
      case AckStatus::kUnacknowledged:
        ++s.unacknowledged;
        break;
      case AckStatus::kFailed:
        ++s.failed;
        break;
    }
  }
  return s;
}

absl::StatusOr<LedgerEntry> ParseLedgerLine(absl::string_view line) {
  std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
  if (f.size() != 7) {
    return BadLine("a ledger line needs 7 tab-separated fields", line);
  }
  LedgerEntry e;
  e.tenant = std::string(f[0]);
  e.request_id = std::string(f[2]);
  e.source_system = std::string(f[3]);
  e.source_reference = std::string(f[4]);
  if (e.tenant.empty() || !absl::SimpleAtoi(f[1], &e.sequence) ||
      !absl::SimpleAtoi(f[5], &e.line_sum) || !absl::SimpleAtoi(f[6], &e.lines)) {
    return BadLine("bad ledger line", line);
  }
  return e;
}

Comparison CompareWithLedger(const std::vector<AckRecord>& acks,
                             const std::vector<LedgerEntry>& ledger,
                             const CompareOptions& options) {
  Comparison c;
  // (tenant, request id) -> sequence of every entry; the same key twice is a duplicate in itself
  // (the ledger's unique key should make it impossible).
  std::map<std::pair<std::string, std::string>, int64_t> by_request;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> references;
  for (const LedgerEntry& e : ledger) {
    TenantCounts& t = c.tenants[e.tenant];
    ++t.entries;
    if (e.source_system == options.load_system) {
      ++t.load_entries;
    }
    if (e.line_sum != 0 || e.lines < 2) {
      ++t.unbalanced;
      c.unbalanced.push_back(
          absl::StrCat(e.tenant, " seq ", e.sequence, ": sum ", e.line_sum, ", lines ", e.lines));
    }
    auto [it, inserted] = by_request.emplace(std::make_pair(e.tenant, e.request_id), e.sequence);
    if (!inserted) {
      c.duplicated.push_back(absl::StrCat(e.tenant, " request_id ", e.request_id, " at seq ",
                                          it->second, " and ", e.sequence));
    }
    if (options.exactly_once_systems.count(e.source_system) > 0) {
      ++references[{e.tenant, e.source_system, e.source_reference}];
    }
  }
  for (const auto& [key, count] : references) {
    if (count > 1) {
      const auto& [tenant, system, reference] = key;
      c.duplicated.push_back(absl::StrCat(tenant, " ", system, "/", reference, " x", count));
    }
  }

  std::set<std::pair<std::string, std::string>> started;
  for (const AckRecord& r : acks) {
    started.emplace(r.tenant, r.request_id);
    auto found = by_request.find({r.tenant, r.request_id});
    if (r.status != AckStatus::kAcknowledged) {
      if (found != by_request.end()) {
        ++c.unacknowledged_but_posted;
      }
      continue;
    }
    ++c.acknowledged;
    ++c.tenants[r.tenant].acknowledged;
    if (found == by_request.end()) {
      c.lost.push_back(absl::StrCat(r.tenant, "/", r.request_id));
    } else if (found->second != r.sequence) {
      c.sequence_mismatch.push_back(absl::StrCat(r.tenant, "/", r.request_id, " seq ", r.sequence,
                                                 ", ledger ", found->second));
    } else {
      ++c.confirmed;
    }
  }
  for (const LedgerEntry& e : ledger) {
    if (e.source_system == options.load_system && started.count({e.tenant, e.request_id}) == 0) {
      c.unexpected.push_back(absl::StrCat(e.tenant, "/", e.request_id));
    }
  }
  return c;
}

std::string ComparisonReport(const Comparison& c, int max_listed) {
  int64_t entries = 0;
  for (const auto& [tenant, t] : c.tenants) {
    entries += t.entries;
  }
  std::string out = absl::StrCat(
      "RESULT ok=", c.ok() ? 1 : 0, " acknowledged=", c.acknowledged, " confirmed=", c.confirmed,
      " lost=", c.lost.size(), " sequence_mismatch=", c.sequence_mismatch.size(),
      " duplicated=", c.duplicated.size(), " unexpected=", c.unexpected.size(),
      " unbalanced=", c.unbalanced.size(),
      " unacknowledged_but_posted=", c.unacknowledged_but_posted, " entries=", entries, "\n");
  for (const auto& [tenant, t] : c.tenants) {
    absl::StrAppend(&out, "TENANT ", tenant, " entries=", t.entries,
                    " load_entries=", t.load_entries, " acknowledged=", t.acknowledged,
                    " unbalanced=", t.unbalanced, "\n");
  }
  auto list = [&](absl::string_view kind, const std::vector<std::string>& items) {
    for (size_t i = 0; i < items.size() && i < static_cast<size_t>(max_listed); ++i) {
      absl::StrAppend(&out, kind, " ", items[i], "\n");
    }
    if (items.size() > static_cast<size_t>(max_listed)) {
      absl::StrAppend(&out, kind, " ... and ", items.size() - max_listed, " more\n");
    }
  };
  list("LOST", c.lost);
  list("SEQUENCE_MISMATCH", c.sequence_mismatch);
  list("DUPLICATED", c.duplicated);
  list("UNEXPECTED", c.unexpected);
  list("UNBALANCED", c.unbalanced);
  return out;
}

}  // namespace tahe::fault
