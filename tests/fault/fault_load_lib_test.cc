#include "tests/fault/fault_load_lib.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace tahe::fault {
namespace {

AckRecord Ack(const std::string& tenant, const std::string& id, int64_t sequence,
              int attempts = 1) {
  AckRecord r;
  r.status = AckStatus::kAcknowledged;
  r.tenant = tenant;
  r.request_id = id;
  r.sequence = sequence;
  r.attempts = attempts;
  return r;
}

AckRecord NotAcked(const std::string& tenant, const std::string& id, AckStatus status) {
  AckRecord r;
  r.status = status;
  r.tenant = tenant;
  r.request_id = id;
  r.attempts = 3;
  r.detail = "14 connection refused";
  return r;
}

LedgerEntry Entry(const std::string& tenant, int64_t sequence, const std::string& id,
                  const std::string& system = "fault", std::string reference = "",
                  int64_t line_sum = 0) {
  return LedgerEntry{.tenant = tenant,
                     .sequence = sequence,
                     .request_id = id,
                     .source_system = system,
                     .source_reference = reference.empty() ? id : reference,
                     .line_sum = line_sum,
                     .lines = 2};
}

TEST_CASE("An ack record survives the file format, tabs in the detail included") {
  AckRecord r = NotAcked("lahti", "fault-1-c0-7", AckStatus::kUnacknowledged);
  r.detail = "14 failed\tto connect\nagain";
  absl::StatusOr<AckRecord> back = ParseAckLine(FormatAckLine(r));
  REQUIRE(back.ok());
  CHECK(back->status == AckStatus::kUnacknowledged);
  CHECK(back->tenant == "lahti");
  CHECK(back->request_id == "fault-1-c0-7");
  CHECK(back->attempts == 3);
  CHECK(back->detail == "14 failed to connect again");

  AckRecord a = Ack("vaasa", "fault-1-c1-0", 42, 2);
  a.replayed = true;
  back = ParseAckLine(FormatAckLine(a));
  REQUIRE(back.ok());
  CHECK(back->status == AckStatus::kAcknowledged);
  CHECK(back->sequence == 42);
  CHECK(back->replayed);
}

TEST_CASE("Malformed ack and ledger lines are refused") {
  CHECK_FALSE(ParseAckLine("ack\tlahti\tid\t1\t1\t0").ok());           // 6 fields
  CHECK_FALSE(ParseAckLine("maybe\tlahti\tid\t1\t1\t0\t").ok());       // status
  CHECK_FALSE(ParseAckLine("ack\tlahti\tid\t0\t1\t0\t").ok());         // ack without seq
  CHECK_FALSE(ParseAckLine("ack\t\tid\t1\t1\t0\t").ok());              // no tenant
  CHECK_FALSE(ParseLedgerLine("lahti\tx\tid\tfault\tid\t0\t2").ok());  // sequence
  CHECK(ParseLedgerLine("lahti\t3\tid\tpayroll\t2026-01-1\t0\t12").ok());
}

TEST_CASE("Only transient codes are retried") {
  CHECK(IsRetryableCode(14));        // UNAVAILABLE
  CHECK(IsRetryableCode(4));         // DEADLINE_EXCEEDED
  CHECK(IsRetryableCode(8));         // RESOURCE_EXHAUSTED
  CHECK(IsRetryableCode(10));        // ABORTED
  CHECK_FALSE(IsRetryableCode(3));   // INVALID_ARGUMENT
  CHECK_FALSE(IsRetryableCode(6));   // ALREADY_EXISTS
  CHECK_FALSE(IsRetryableCode(9));   // FAILED_PRECONDITION
  CHECK_FALSE(IsRetryableCode(13));  // INTERNAL
}

TEST_CASE("Summarise counts requests, retries and replays per status") {
  AckRecord replayed = Ack("lahti", "b", 2, 3);
  replayed.replayed = true;
  AckSummary s = Summarise({Ack("lahti", "a", 1), replayed, Ack("vaasa", "c", 1),
                            NotAcked("vaasa", "d", AckStatus::kUnacknowledged),
                            NotAcked("lahti", "e", AckStatus::kFailed)});
  CHECK(s.attempted == 5);
  CHECK(s.acknowledged == 3);
  CHECK(s.unacknowledged == 1);
  CHECK(s.failed == 1);
  CHECK(s.retried == 3);
  CHECK(s.replayed == 1);
  CHECK(s.calls == 1 + 3 + 1 + 3 + 3);
  CHECK(s.acknowledged_by_tenant.at("lahti") == 2);
  CHECK(s.acknowledged_by_tenant.at("vaasa") == 1);
}

TEST_CASE("Every acknowledgement in the ledger under its sequence: nothing lost or duplicated") {
  Comparison c = CompareWithLedger(
      {Ack("lahti", "a", 11), Ack("lahti", "b", 12), Ack("vaasa", "c", 3),
       NotAcked("vaasa", "d", AckStatus::kUnacknowledged)},
      {Entry("lahti", 1, "demo-1", "demo", "seed-demo 2026-01"),
       Entry("lahti", 2, "demo-2", "demo", "seed-demo 2026-01"), Entry("lahti", 11, "a"),
       Entry("lahti", 12, "b"), Entry("vaasa", 3, "c"), Entry("vaasa", 4, "d"),
       Entry("vaasa", 5, "payroll-vaasa-2026-01-1", "payroll", "2026-01-1")},
      {});
  CHECK(c.ok());
  CHECK(c.acknowledged == 3);
  CHECK(c.confirmed == 3);
  // d's answer was lost, not its write: allowed, and counted.
  CHECK(c.unacknowledged_but_posted == 1);
  CHECK(c.tenants.at("lahti").entries == 4);
  CHECK(c.tenants.at("lahti").load_entries == 2);
  CHECK(c.tenants.at("vaasa").acknowledged == 1);
  // Demo entries share a source reference; only the exactly-once systems are checked.
  CHECK(c.duplicated.empty());
}

TEST_CASE("An acknowledged request missing from the ledger is lost") {
  Comparison c =
      CompareWithLedger({Ack("lahti", "a", 1), Ack("lahti", "b", 2)}, {Entry("lahti", 1, "a")}, {});
  CHECK_FALSE(c.ok());
  REQUIRE(c.lost.size() == 1);
  CHECK(c.lost[0] == "lahti/b");
  CHECK(c.confirmed == 1);
}

TEST_CASE("An acknowledgement under another tenant or sequence is not confirmed") {
  Comparison c = CompareWithLedger({Ack("lahti", "a", 1), Ack("lahti", "b", 2)},
                                   {Entry("phhyky", 1, "a"), Entry("lahti", 3, "b")}, {});
  CHECK(c.lost == std::vector<std::string>{"lahti/a"});
  CHECK(c.sequence_mismatch == std::vector<std::string>{"lahti/b seq 2, ledger 3"});
  // phhyky's entry was never started for phhyky.
  CHECK(c.unexpected == std::vector<std::string>{"phhyky/a"});
}

TEST_CASE("A reference posted twice is duplicated, per tenant and system") {
  Comparison c =
      CompareWithLedger({},
                        {Entry("lahti", 1, "invoicing-lahti-invoice-X", "invoicing", "L-1"),
                         Entry("lahti", 2, "invoicing-lahti-invoice-X-again", "invoicing", "L-1"),
                         Entry("vaasa", 1, "invoicing-vaasa-invoice-X", "invoicing", "L-1"),
                         Entry("lahti", 3, "p1", "payroll", "2026-01-1"),
                         Entry("lahti", 4, "p2", "payroll", "2026-01-1"),
                         Entry("lahti", 5, "p3", "payroll", "2026-01-1")},
                        {});
  CHECK_FALSE(c.ok());
  CHECK(c.duplicated ==
        std::vector<std::string>{"lahti invoicing/L-1 x2", "lahti payroll/2026-01-1 x3"});
}

TEST_CASE("Unbalanced entries and load entries nobody started are reported") {
  Comparison c =
      CompareWithLedger({Ack("lahti", "a", 1)},
                        {Entry("lahti", 1, "a", "fault", "", 5), Entry("lahti", 2, "zz")}, {});
  CHECK_FALSE(c.ok());
  CHECK(c.unbalanced == std::vector<std::string>{"lahti seq 1: sum 5, lines 2"});
  CHECK(c.unexpected == std::vector<std::string>{"lahti/zz"});
  CHECK(c.tenants.at("lahti").unbalanced == 1);
  std::string report = ComparisonReport(c);
  CHECK(report.find("RESULT ok=0 acknowledged=1 confirmed=1 lost=0") == 0);
  CHECK(report.find("UNBALANCED lahti seq 1: sum 5, lines 2\n") != std::string::npos);
  CHECK(report.find("TENANT lahti entries=2 load_entries=2 acknowledged=1 unbalanced=1\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace tahe::fault
