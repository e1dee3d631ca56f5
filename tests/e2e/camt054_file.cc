// tahe_e2e_camt054: writes a camt.054.001.02 bank notification for the end-to-end tests with
// services/invoicing/camt054.h's WriteCamt054, so that the file is what a bank would send (and
// valid against third_party/schemas/camt/camt.054.001.02.xsd) without hand-written XML.
//
//   tahe_e2e_camt054 IBAN MESSAGE_ID BOOKING_DATE CENTS:REFERENCE:BANK_REF ... > camt054.xml
//
// One booked EUR credit entry per CENTS:REFERENCE:BANK_REF, booked and valued on BOOKING_DATE
// (YYYY-MM-DD), its transaction carrying the structured reference and the bank's archive id
// BANK_REF (AcctSvcrRef, what makes a re-import a duplicate). Exit status 2 for bad arguments,
// 1 when WriteCamt054 refuses them (the message names the field).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "services/invoicing/camt054.h"

namespace {

int Usage() {
  std::cerr << "usage: tahe_e2e_camt054 IBAN MESSAGE_ID BOOKING_DATE "
               "CENTS:REFERENCE:BANK_REF ...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using tahe::invoicing::Camt054Entry;
  using tahe::invoicing::Camt054File;
  using tahe::invoicing::Camt054Notification;
  using tahe::invoicing::Camt054Transaction;
  if (argc < 5) {
    return Usage();
  }
  absl::CivilDay booked;
  if (!absl::ParseCivilTime(argv[3], &booked)) {
    return Usage();
  }
  Camt054File file;
  file.message_id = argv[2];
  file.creation_date_time = std::string(argv[3]) + "T08:00:00+02:00";
  Camt054Notification notification;
  notification.id = file.message_id + "-N1";
  notification.creation_date_time = file.creation_date_time;
  notification.account_iban = argv[1];
  for (int i = 4; i < argc; ++i) {
    std::vector<std::string> parts = absl::StrSplit(argv[i], ':');
    int64_t cents = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &cents)) {
      return Usage();
    }
    Camt054Transaction transaction;
    transaction.amount_cents = cents;
    transaction.currency = "EUR";
    transaction.reference = parts[1];
    transaction.account_servicer_reference = parts[2];
    transaction.debtor_name = "Maksaja";
    Camt054Entry entry;
    entry.amount_cents = cents;
    entry.booking_date = booked;
    entry.value_date = booked;
    entry.account_servicer_reference = parts[2];
    entry.transactions.push_back(transaction);
    notification.entries.push_back(entry);
  }
  file.notifications.push_back(notification);
  absl::StatusOr<std::string> xml = tahe::invoicing::WriteCamt054(file);
  if (!xml.ok()) {
    std::cerr << "tahe_e2e_camt054: " << xml.status().message() << "\n";
    return 1;
  }
  std::cout << *xml;
  return 0;
}
