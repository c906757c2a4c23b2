// The fields of CampaignConfig, declared once. One table (key, flag, help, how the value is read
// and printed, the rule it must meet) drives the `faultline campaign` flags, `--config` files,
// the config.json of a run directory (ConfigToJson / ConfigFromJson, runner/campaign.h) and
// ValidateConfig, so a new field is one row and the four cannot drift apart.
//
// The table is the compatibility contract: a key or flag renamed here breaks the config.json of
// every earlier run, so a rename keeps the old key as an alias row.
//
// Thread-safety: the table is immutable; the functions are pure.
#ifndef FAULTLINE_RUNNER_CONFIG_H_
#define FAULTLINE_RUNNER_CONFIG_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "runner/campaign.h"

namespace faultline::runner {

struct ConfigField {
  // Plain values are read and written through a member pointer; a field whose value is an enum or
  // a list of names (workload, nemesis) is text, read and written through parse / print. A list
  // of strings (log_patterns) is a repeatable flag and a JSON array.
  using Member = std::variant<std::monostate, std::string CampaignConfig::*, int CampaignConfig::*,
                              double CampaignConfig::*, std::uint64_t CampaignConfig::*,
                              bool CampaignConfig::*, std::vector<std::string> CampaignConfig::*>;

  std::string_view key{};   // the config.json key ("time_limit")
  std::string_view flag{};  // the command-line flag ("--time-limit"); empty: config file only
  std::string_view help{};  // one line for --help
  Member member{};
  Status (*parse)(CampaignConfig& config, std::string_view text) = nullptr;  // text fields
  std::string (*print)(const CampaignConfig& config) = nullptr;              // text fields
  // What is wrong with this field's value ("nodes 12 is not in 1..9"), or an empty string.
  std::string (*check)(const CampaignConfig& config) = nullptr;
  bool show_default = true;  // in --help; false where the default is chosen at run time (seed)

  bool is_text() const { return std::holds_alternative<std::monostate>(member); }
};

// Every field, in config.json order.
std::span<const ConfigField> ConfigFields();

// Copies one field's value from `from` to `to`.
void CopyField(const ConfigField& field, const CampaignConfig& from, CampaignConfig& to);

// The field's value as text, as --help shows a default ("partition,kill,pause,loss", "60").
std::string FieldText(const ConfigField& field, const CampaignConfig& config);

// Sets a text field from its text form. REQUIRES: field.is_text().
[[nodiscard]] Status SetFieldText(const ConfigField& field, CampaignConfig& config,
                                  std::string_view text);

}  // namespace faultline::runner

#endif  // FAULTLINE_RUNNER_CONFIG_H_
