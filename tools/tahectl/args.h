#pragma once

// Command-line parsing for tahectl: positional words (the subcommand path and its operands) and
// --options, which may appear anywhere after the program name.
//
//   ASSIGN_OR_RETURN(Args args, ParseArgs({"ledger", "post", "--line", "1910:-5.00"}));
//   args.positional();        // {"ledger", "post"}
//   args.Values("line");      // {"1910:-5.00"}
//
// An option takes its value as "--name=value" or as the next argument (even one that starts
// with '-', so "--line 1910:-5" works). Boolean options take no value. "--" ends the options.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::tahectl {

struct OptionSpec {
  absl::string_view name;  // without dashes
  bool takes_value;
  bool repeatable;
};

// Every option tahectl knows, global and per command.
const std::vector<OptionSpec>& KnownOptions();

class Args {
 public:
  const std::vector<std::string>& positional() const { return positional_; }

  bool Has(absl::string_view name) const;
  // The value of a single-valued option, if given.
  std::optional<std::string> Value(absl::string_view name) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> Values(absl::string_view name) const;

  // INVALID_ARGUMENT naming the first option that is given but is neither global nor in
  // `allowed`; `command` names the subcommand in the message.
  absl::Status CheckOnly(absl::string_view command,
                         const std::vector<absl::string_view>& allowed) const;

  // INVALID_ARGUMENT naming the first of `names` given more than once: for options that one
  // command repeats and another takes once (--region, --organisation, --service, --dimension).
  absl::Status AtMostOnce(const std::vector<absl::string_view>& names) const;

 private:
  friend absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>, std::less<>> options_;
};

// Marks an error found in the command line or the configuration before anything was called;
// tahectl exits with status 2 for it instead of 1.
absl::Status UsageError(absl::Status status);
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// Global options, accepted by every command.
const std::vector<absl::string_view>& GlobalOptions();

// Parses the arguments after the program name. INVALID_ARGUMENT for an unknown option, a
// missing value, a value given to a boolean option, or a single-valued option given twice.
// There is deliberately no option that takes an API key itself: --api-key and the like are
// refused with a pointer to --api-key-file, without repeating the value; so is
// --personal-identity-code (and --hetu), pointing to --personal-identity-code-file.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

}  // namespace tahe::tahectl
