#pragma once

// The bookkeeping of the fault test's posting load (tests/fault/fault_test.sh) and the comparison
// of what it was told with what the ledger holds afterwards. Pure code: no gRPC, no SQL, so the
// rules are unit-tested (fault_load_lib_test.cc) and tahe_fault_load only moves data.
//
// The load client records one AckRecord per request it started: ACKNOWLEDGED (an OK answer with
// the entry's sequence), UNACKNOWLEDGED (still failing with a retryable code when the run ended:
// it may or may not be in the ledger) or FAILED (a code that is not retried). The script dumps
// the ledger's entries (LedgerEntry, one per row) and CompareWithLedger says what was lost
// (acknowledged, but not in the ledger as that sequence), what is there twice (two entries with
// the same source system and reference, for the systems that must post each reference once) and
// whether every entry balances.
//
//   std::vector<AckRecord> acks = ...;      // ParseAckLine over the client's file
//   std::vector<LedgerEntry> ledger = ...;  // ParseLedgerLine over the dump
//   Comparison c = CompareWithLedger(acks, ledger, {.load_system = "fault",
//                                    .exactly_once_systems = {"fault", "payroll", "invoicing"}});
//   if (c.lost.empty() && c.duplicated.empty() && ...) { ... }
//
// File formats (tab-separated, one record a line, no header):
//   acks:   status tenant request_id sequence attempts replayed detail
//   ledger: tenant sequence request_id source_system source_reference line_sum lines

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::fault {

enum class AckStatus { kAcknowledged, kUnacknowledged, kFailed };

// "ack", "unacked", "failed" as in the file.
absl::string_view AckStatusName(AckStatus status);

struct AckRecord {
  AckStatus status = AckStatus::kUnacknowledged;
  std::string tenant;
  std::string request_id;
  int64_t sequence = 0;   // the ledger's answer, 0 unless acknowledged
  int attempts = 0;       // calls made with this request id
  bool replayed = false;  // the acknowledging answer said replayed (an earlier attempt committed)
  // The last error ("UNAVAILABLE: ...") of a request not acknowledged; empty otherwise. Tabs and
  // newlines are replaced by spaces when written.
  std::string detail;
};

std::string FormatAckLine(const AckRecord& record);
absl::StatusOr<AckRecord> ParseAckLine(absl::string_view line);

// Codes a client retries with the same request id: the call may or may not have reached the
// ledger, and the same id makes a second attempt safe. Canonical gRPC code numbers.
bool IsRetryableCode(int grpc_code);

// Counts of a load run, from its records.
struct AckSummary {
  int64_t attempted = 0;  // request ids started
  int64_t acknowledged = 0;
  int64_t unacknowledged = 0;
  int64_t failed = 0;
  int64_t retried = 0;   // request ids that needed more than one call
  int64_t replayed = 0;  // acknowledged by a replay: an earlier attempt had committed
  int64_t calls = 0;     // calls made in all
  std::map<std::string, int64_t> acknowledged_by_tenant;
};
AckSummary Summarise(const std::vector<AckRecord>& records);

// One entry of the ledger, as the fault test dumps it.
struct LedgerEntry {
  std::string tenant;
  int64_t sequence = 0;
  std::string request_id;
  std::string source_system;
  std::string source_reference;
  int64_t line_sum = 0;  // sum of the lines' amounts (one currency in these tests): 0 if balanced
  int lines = 0;
};
absl::StatusOr<LedgerEntry> ParseLedgerLine(absl::string_view line);

struct CompareOptions {
  // The source system of the load client's entries (every one of them must have been started
  // by the client).
  std::string load_system = "fault";
  // Systems whose every (tenant, source reference) must appear at most once.
  std::set<std::string> exactly_once_systems = {"fault", "payroll", "invoicing"};
};

struct TenantCounts {
  int64_t entries = 0;       // every entry of the tenant
  int64_t load_entries = 0;  // of them, the load client's
  int64_t acknowledged = 0;  // the client's acknowledgements for the tenant
  int64_t unbalanced = 0;    // entries whose lines do not sum to 0
};

struct Comparison {
  int64_t acknowledged = 0;
  // Acknowledged request ids found in the ledger under the acknowledged sequence.
  int64_t confirmed = 0;
  // "tenant/request_id": acknowledged, but no entry with that request id.
  std::vector<std::string> lost;
  // "tenant/request_id seq A, ledger B": the entry exists under another sequence.
  std::vector<std::string> sequence_mismatch;
  // "tenant system/reference xN": a reference of an exactly-once system that appears N > 1 times
  // (or a request id that appears twice).
  std::vector<std::string> duplicated;
  // "tenant/request_id": entries of the load system that the client never started.
  std::vector<std::string> unexpected;
  // "tenant seq N: sum S": entries whose lines do not balance.
  std::vector<std::string> unbalanced;
  // Requests not acknowledged (unacked or failed) that are in the ledger anyway: allowed (the
  // answer was lost, not the write), reported for information.
  int64_t unacknowledged_but_posted = 0;
  std::map<std::string, TenantCounts> tenants;

  bool ok() const {
    return lost.empty() && sequence_mismatch.empty() && duplicated.empty() && unexpected.empty() &&
           unbalanced.empty();
  }
};

Comparison CompareWithLedger(const std::vector<AckRecord>& acks,
                             const std::vector<LedgerEntry>& ledger, const CompareOptions& options);

// `RESULT key=value ...` for scripts, then one `TENANT name key=value ...` line per tenant, then
// one line per problem (`LOST tenant/request_id`, `DUPLICATED ...`, ...), at most `max_listed`
// of each kind.
std::string ComparisonReport(const Comparison& c, int max_listed = 50);

}  // namespace tahe::fault
