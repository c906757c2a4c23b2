#include "nemesis/command_net.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "common/parallel.h"
#include "nemesis/internal/backend.h"
#include "nemesis/internal/iptables_rules.h"

namespace faultline::nemesis {
namespace {

// Printed by the apply command once the rules are in place, so that a failure of a later step
// (conntrack) is not mistaken for rules that are absent.
constexpr std::string_view kRestored = "faultline-restored";
constexpr std::string_view kConntrack = "faultline-conntrack ";

Error CommandError(std::string_view what, const CommandOutput& out) {
  std::string err = out.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  if (err.empty()) err = "no error output";
  // 255 is ssh's own failure (connection, authentication), not the command's.
  const ErrorCode code = out.exit_code == 255 ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  return Error(code, fmt::format("{}: exit {}: {}", what, out.exit_code, err));
}

// "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted." -> 3.
std::optional<int> DeletedCount(const std::string& text) {
  const auto at = text.find(" flow entries have been deleted");
  if (at == std::string::npos) return std::nullopt;
  size_t start = at;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(text[start - 1]))) --start;
  if (start == at) return std::nullopt;
  return std::stoi(text.substr(start, at - start));
}

class CommandNet final : public Net {
 public:
  CommandNet(NetConfig config, NodeControl& control, CommandNetOptions options)
      : config_(std::move(config)),
        control_(control),
        options_(options),
        name_(fmt::format("iptables-over-{}", control.Name())),
        via_(fmt::format("iptables-restore over {}", control.Name())),
        chain_(internal::IptablesChain(config_.run_id)),
        jumped_(config_.nodes.size(), 0) {}

  std::string_view Name() const override { return name_; }
  bool Supports(PartitionMode) const override { return true; }

  Result<NetReport> Apply(const Grudge& grudge, PartitionMode mode) override {
    FAULTLINE_ASSIGN_OR_RETURN(Grudge g, internal::ValidateGrudge(name_, config_, grudge));
    std::vector<NodeReport> nodes = internal::PendingReports(config_, g);
    std::vector<internal::ConntrackOutcome> conntrack(config_.nodes.size());
    const auto statuses = ParallelFor(config_.nodes.size(), [&](size_t i) -> Status {
      NodeReport& r = nodes[i];
      if (r.peers.empty()) {
        r.mechanism = fmt::format("{}: no chain (drops nothing)", via_);
        FAULTLINE_RETURN_IF_ERROR(HealNode(i));
        r.needs_heal = false;
        return OkStatus();
      }
      r.mechanism = fmt::format("{}: chain {} from INPUT (filter): {} from {} peer(s)", via_,
                                chain_, PartitionModeName(mode), r.peers.size());
      const auto addresses = internal::PeerAddresses(config_, r.peers);
      const std::string input =
          internal::IptablesApplyInput(mode, chain_, addresses, jumped_[i] != 0);
      const bool cut_flows = mode == PartitionMode::kNewOnly && options_.delete_conntrack;
      std::string command =
          fmt::format("iptables-restore --noflush || exit $?\necho {}\n", kRestored);
      if (cut_flows) {
        // Addresses are validated dotted IPv4, so they need no quoting.
        command += fmt::format(
            "for a in {}; do o=$(conntrack -D -s \"$a\" 2>&1); echo \"{}$a $? $o\"; done\n",
            fmt::join(addresses, " "), kConntrack);
      }
      FAULTLINE_ASSIGN_OR_RETURN(CommandOutput out,
                                 control_.Run(config_.nodes[i].name, command, input));
      if (out.out.find(kRestored) == std::string::npos) {
        return CommandError("iptables-restore --noflush", out);
      }
      jumped_[i] = 1;
      if (cut_flows) conntrack[i] = ParseConntrack(out.out);
      return OkStatus();
    });
    NetReport report =
        internal::MakeReport(name_, "apply", mode, config_, std::move(nodes), statuses);
    report.grudge = DescribeGrudge(g);
    if (mode == PartitionMode::kNewOnly) {
      if (options_.delete_conntrack) {
        report.notes.push_back(internal::ConntrackNote(config_, conntrack));
      } else {
        report.notes.push_back(
            "new-only: conntrack entries were not deleted, so flows the filtered peers opened "
            "before the partition keep flowing");
      }
    }
    return report;
  }

  NetReport Heal() override {
    std::vector<NodeReport> nodes(config_.nodes.size());
    const auto statuses = ParallelFor(config_.nodes.size(), [&](size_t i) -> Status {
      nodes[i].mechanism = fmt::format("{}: delete jump, flush and delete chain {}", via_, chain_);
      return HealNode(i);
    });
    return internal::MakeReport(name_, "heal", PartitionMode::kDrop, config_, std::move(nodes),
                                statuses);
  }

 private:
  static internal::ConntrackOutcome ParseConntrack(const std::string& out) {
    internal::ConntrackOutcome outcome;
    outcome.ran = true;
    std::istringstream in(out);
    std::string line;
    std::vector<std::string> failures;
    while (std::getline(in, line)) {
      if (line.rfind(kConntrack, 0) != 0) continue;
      // "faultline-conntrack ADDR RC OUTPUT"
      std::istringstream fields(line.substr(kConntrack.size()));
      std::string address;
      int rc = -1;
      fields >> address >> rc;
      std::string text;
      std::getline(fields, text);
      if (auto n = DeletedCount(text)) {
        outcome.deleted += *n;
      } else {
        failures.push_back(fmt::format("conntrack -D -s {}: exit {}:{}", address, rc, text));
      }
    }
    if (!failures.empty()) {
      outcome.error = Error(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(failures, "; ")));
    }
    return outcome;
  }

  // Runs on node i's thread.
  Status HealNode(size_t i) {
    const std::string& node = config_.nodes[i].name;
    if (jumped_[i] != 0) {
      // We put exactly one jump and the chain there: remove them in one round trip.
      const std::string input =
          internal::IptablesHealInput({.has_chain = true, .jumps = 1, .foreign = false}, chain_);
      FAULTLINE_ASSIGN_OR_RETURN(CommandOutput out,
                                 control_.Run(node, "iptables-restore --noflush", input));
      jumped_[i] = 0;
      if (out.exit_code == 0) return OkStatus();
      // Someone changed the table under us: fall back to reading it.
    }
    FAULTLINE_ASSIGN_OR_RETURN(CommandOutput save, control_.Run(node, "iptables-save -t filter"));
    if (save.exit_code != 0) return CommandError("iptables-save -t filter", save);
    const std::string input =
        internal::IptablesHealInput(internal::ParseIptablesSave(save.out, chain_), chain_);
    if (input.empty()) return OkStatus();
    FAULTLINE_ASSIGN_OR_RETURN(CommandOutput out,
                               control_.Run(node, "iptables-restore --noflush", input));
    if (out.exit_code != 0) return CommandError("iptables-restore --noflush", out);
    return OkStatus();
  }

  NetConfig config_;
  NodeControl& control_;
  CommandNetOptions options_;
  std::string name_;
  std::string via_;
  std::string chain_;
  // Per node, each written only by that node's thread (vector<bool> packs bits, so use char).
  std::vector<char> jumped_;
};

}  // namespace

Result<std::unique_ptr<Net>> MakeCommandNet(const NetConfig& config, NodeControl& control,
                                            const CommandNetOptions& options) {
  NetConfig c = config;
  // The namespace is the control's business; ValidateConfig wants one named.
  for (auto& n : c.nodes) {
    if (n.netns.empty()) n.netns = n.name;
  }
  const std::string name = fmt::format("iptables-over-{}", control.Name());
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateConfig(name, c));
  const std::vector<std::string> known = control.Nodes();
  for (const auto& n : c.nodes) {
    if (std::find(known.begin(), known.end(), n.name) == known.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("nemesis: {} net: node {}: not a node of the {} control "
                                   "(nodes: {})",
                                   name, n.name, control.Name(), fmt::join(known, ", ")));
    }
  }
  return std::unique_ptr<Net>(std::make_unique<CommandNet>(std::move(c), control, options));
}

}  // namespace faultline::nemesis
