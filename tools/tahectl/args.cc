#include "tools/tahectl/args.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace tahe::tahectl {

const std::vector<OptionSpec>& KnownOptions() {
  static const auto* const kOptions = new std::vector<OptionSpec>{
      // Global.
      {"addr", true, false},
      {"tenant", true, false},
      {"env-file", true, false},
      {"api-key-file", true, false},
      {"internal-token-file", true, false},
      {"tls-ca-file", true, false},
      {"tls-cert-file", true, false},
      {"tls-key-file", true, false},
      {"timeout", true, false},
      {"json", false, false},
      {"help", false, false},
      // Per command. Options that some commands repeat and others take once (--service,
      // --region, --organisation, --dimension) are repeatable here; the commands that take
      // them once check Args::AtMostOnce.
      {"service", true, true},
      {"remove-service", true, true},
      {"name", true, false},
      {"business-id", true, false},
      {"region", true, true},
      {"organisation", true, true},
      {"role", true, true},
      {"include-revoked", false, false},
      {"key-file", true, false},
      {"target", true, false},
      {"after-id", true, false},
      {"limit", true, false},
      {"file", true, false},
      {"dimension", true, true},
      {"template", true, false},
      {"request-id", true, false},
      {"date", true, false},
      {"description", true, false},
      {"line", true, true},
      {"source-system", true, false},
      {"source-reference", true, false},
      {"period", true, false},
      {"as-of", true, false},
      {"include-closed", false, false},
      {"page-size", true, false},
      {"tenants", true, false},
      {"today", true, false},
      // payroll
      {"first-name", true, false},
      {"last-name", true, false},
      {"personal-identity-code-file", true, false},
      {"iban", true, false},
      {"bic", true, false},
      {"start-date", true, false},
      {"end-date", true, false},
      {"cost-centre", true, false},
      {"salary-basis", true, false},
      {"monthly-salary", true, false},
      {"hourly-rate", true, false},
      {"pension-scheme", true, false},
      {"union-fee-percent", true, false},
      {"valid-from", true, false},
      {"base-rate", true, false},
      {"additional-rate", true, false},
      {"income-limit", true, false},
      {"pension-total", true, false},
      {"unemployment-tier", true, false},
      {"accident-insurance", true, false},
      {"group-life-insurance", true, false},
      {"debtor-name", true, false},
      {"debtor-iban", true, false},
      {"debtor-bic", true, false},
      {"debtor-business-id", true, false},
      {"account-wages", true, false},
      {"account-reimbursements", true, false},
      {"account-pension-costs", true, false},
      {"account-other-social-costs", true, false},
      {"account-withholding-payable", true, false},
      {"account-pension-payable", true, false},
      {"account-unemployment-payable", true, false},
      {"account-health-insurance-payable", true, false},
      {"account-other-payable", true, false},
      {"account-net-pay-payable", true, false},
      {"employee", true, false},
      {"payment-date", true, false},
      {"format", true, false},
      {"out", true, false},
      {"wait-posted", false, false},
      {"wait-timeout", true, false},
      // invoicing
      {"seller-name", true, false},
      {"reference-prefix", true, false},
      {"street", true, false},
      {"postal-code", true, false},
      {"city", true, false},
      {"payment-terms", true, false},
      {"reminder-fee", true, false},
      {"customer", true, false},
      {"delivery-date", true, false},
      {"invoice-id", true, false},
      {"series", true, false},
      {"text", true, false},
      {"status", true, false},
      {"due-from", true, false},
      {"due-to", true, false},
      {"billing-run", true, false},
      {"lines", true, false},
      {"run", true, false},
      {"unmatched", false, false},
      {"amount", true, false},
      {"half", true, false},
      {"rate", true, false},
      {"provisional", false, false},
      // report
      {"from", true, false},
      {"to", true, false},
      {"month", true, false},
      {"year", true, false},
      {"currency", true, false},
      {"min-sequence", true, false},
      {"split-by", true, false},
      {"budget", true, false},
      {"export", true, false},
      {"default", false, false},
      {"with-income-statement", false, false},
  };
  return *kOptions;
}

const std::vector<absl::string_view>& GlobalOptions() {
  static const auto* const kGlobal = new std::vector<absl::string_view>{
      "addr",        "tenant",        "env-file",     "api-key-file", "internal-token-file",
      "tls-ca-file", "tls-cert-file", "tls-key-file", "timeout",      "json",
      "help"};
  return *kGlobal;
}

namespace {

constexpr absl::string_view kUsagePayload = "tahectl/usage";

}  // namespace

absl::Status UsageError(absl::Status status) {
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

absl::Status UsageError(absl::string_view message) {
  return UsageError(absl::InvalidArgumentError(message));
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

namespace {

const OptionSpec* FindOption(absl::string_view name) {
  for (const OptionSpec& spec : KnownOptions()) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

}  // namespace

bool Args::Has(absl::string_view name) const { return options_.find(name) != options_.end(); }

std::optional<std::string> Args::Value(absl::string_view name) const {
  auto it = options_.find(name);
  if (it == options_.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second.back();
}

std::vector<std::string> Args::Values(absl::string_view name) const {
  auto it = options_.find(name);
  if (it == options_.end()) {
    return {};
  }
  return it->second;
}

absl::Status Args::CheckOnly(absl::string_view command,
                             const std::vector<absl::string_view>& allowed) const {
  for (const auto& [name, values] : options_) {
    const auto& global = GlobalOptions();
    if (std::find(global.begin(), global.end(), name) != global.end() ||
        std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " is not an option of '", command, "'"));
  }
  return absl::OkStatus();
}

absl::Status Args::AtMostOnce(const std::vector<absl::string_view>& names) const {
  for (absl::string_view name : names) {
    if (auto it = options_.find(name); it != options_.end() && it->second.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " given more than once"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv) {
  Args args;
  bool options_ended = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      args.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "-h") {
      args.options_["help"].push_back("");
      continue;
    }
    if (arg[1] != '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      inline_value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    if (body == "api-key" || body == "admin-api-key" || body == "key") {
      // Refused by name, and the value is never echoed: command lines are visible to every
      // user of the machine (ps, /proc/PID/cmdline) and end up in shell history.
      return absl::InvalidArgumentError(absl::StrCat(
          "--", body,
          ": API keys are not accepted on the command line (ps and shell history would show "
          "them); use --api-key-file PATH, TAHE_API_KEY or TAHE_API_KEY_FILE"));
    }
    if (body == "personal-identity-code" || body == "hetu" || body == "henkilotunnus") {
      // Personal data: refused by name and never echoed, for the same reasons as keys.
      return absl::InvalidArgumentError(absl::StrCat(
          "--", body,
          ": personal identity codes are not accepted on the command line (ps and shell history "
          "would show them); use --personal-identity-code-file PATH, or pipe the code to stdin"));
    }
    const OptionSpec* spec = FindOption(body);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", body));
    }
    std::string value;
    if (!spec->takes_value) {
      if (inline_value.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("--", body, " takes no value"));
      }
    } else if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", body, " needs a value"));
    }
    std::vector<std::string>& values = args.options_[std::string(body)];
    if (!spec->repeatable && !values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", body, " given more than once"));
    }
    values.push_back(std::move(value));
  }
  return args;
}

}  // namespace tahe::tahectl
