// The iptables backend: one `iptables-restore --noflush` exec per node and apply, run from a
// thread inside the node's network namespace (the child inherits it). Rules live in a chain
// `faultline_<run>` jumped to from INPUT. Heal reads the filter table (`iptables-save -t filter`),
// then deletes every jump to our chain and flushes and deletes the chain, in one restore.
//
// With the nf_tables variant of iptables (Debian 12's default), the first restore in a fresh
// namespace creates the nft table `ip filter` with its three base chains. Apply records whether
// that table existed before (through libnftables); heal removes it only if this Net saw it absent
// and nothing but our objects was ever in it.
#include <fmt/format.h>

#include <mutex>

#include "common/process.h"
#include "nemesis/internal/backend.h"
#include "nemesis/internal/iptables_rules.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nft.h"
#include "nemesis/net.h"

namespace faultline::nemesis {
namespace {

constexpr std::string_view kName = "iptables";

class IptablesNet final : public Net {
 public:
  IptablesNet(NetConfig config, bool nft_variant)
      : config_(std::move(config)),
        chain_(internal::IptablesChain(config_.run_id)),
        nft_variant_(nft_variant),
        jumped_(config_.nodes.size(), false),
        made_filter_table_(config_.nodes.size(), false),
        filter_checked_(config_.nodes.size(), false),
        workers_(internal::NetnsOf(config_)) {}

  std::string_view Name() const override { return kName; }
  bool Supports(PartitionMode) const override { return true; }

  Result<NetReport> Apply(const Grudge& grudge, PartitionMode mode) override {
    FAULTLINE_ASSIGN_OR_RETURN(Grudge g, internal::ValidateGrudge(kName, config_, grudge));
    std::vector<NodeReport> nodes = internal::PendingReports(config_, g);
    std::vector<internal::ConntrackOutcome> conntrack(config_.nodes.size());
    const auto statuses = workers_.ForEach([&](size_t i) -> Status {
      NodeReport& r = nodes[i];
      if (r.peers.empty()) {
        // Nothing to drop: remove whatever an earlier apply of ours left here.
        r.mechanism = "iptables: no chain (drops nothing)";
        r.needs_heal = true;
        FAULTLINE_RETURN_IF_ERROR(HealNode(i));
        r.needs_heal = false;
        return OkStatus();
      }
      r.needs_heal = true;
      r.mechanism = fmt::format("iptables chain {} from INPUT (filter): {} from {} peer(s)", chain_,
                                PartitionModeName(mode), r.peers.size());
      NoteFilterTable(i);
      const std::string input = internal::IptablesApplyInput(
          mode, chain_, internal::PeerAddresses(config_, r.peers), jumped_[i] != 0);
      FAULTLINE_RETURN_IF_ERROR(RunProcessOk({"iptables-restore", "--noflush"}, {.input = input}));
      jumped_[i] = true;
      if (mode == PartitionMode::kNewOnly) {
        conntrack[i] = internal::CutEstablishedFlows(config_, r.peers);
      }
      return OkStatus();
    });
    return internal::ApplyReport(kName, mode, config_, std::move(nodes), statuses, g, conntrack);
  }

  NetReport Heal() override {
    std::vector<NodeReport> nodes(config_.nodes.size());
    const auto statuses = workers_.ForEach([&](size_t i) -> Status {
      nodes[i].mechanism = fmt::format("iptables: delete jump, flush and delete chain {}", chain_);
      return HealNode(i);
    });
    return internal::MakeReport(kName, "heal", PartitionMode::kDrop, config_, std::move(nodes),
                                statuses);
  }

 private:
  // Runs on a thread inside node i's namespace. Records, once, whether the nft table `ip filter`
  // existed before our first restore created it.
  void NoteFilterTable(size_t i) {
    if (!nft_variant_ || filter_checked_[i]) return;
    filter_checked_[i] = true;
    auto ctx = internal::ThreadNftContext();
    if (!ctx) return;
    auto listed = (*ctx)->Run("list table ip filter");
    made_filter_table_[i] = !listed && listed.error().code() == ErrorCode::kNotFound;
  }

  // Runs on a thread inside node i's namespace.
  Status HealNode(size_t i) {
    FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput save, RunProcess({"iptables-save", "-t", "filter"}));
    // A namespace where the filter table was never created has nothing of ours.
    const internal::IptablesFilterTable t = save.exit_code == 0
                                                ? internal::ParseIptablesSave(save.out, chain_)
                                                : internal::IptablesFilterTable{};
    const std::string input = internal::IptablesHealInput(t, chain_);
    if (!input.empty()) {
      FAULTLINE_RETURN_IF_ERROR(RunProcessOk({"iptables-restore", "--noflush"}, {.input = input}));
    }
    jumped_[i] = false;
    if (made_filter_table_[i] && !t.foreign) {
      // Only our chain was ever in the table iptables created for us: remove the table too.
      FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
      auto done = ctx->Run("delete table ip filter");
      if (!done && done.error().code() != ErrorCode::kNotFound) {
        return std::move(done).error().WithContext("remove the ip filter table iptables created");
      }
      made_filter_table_[i] = false;
      filter_checked_[i] = false;
    }
    return OkStatus();
  }

  NetConfig config_;
  std::string chain_;
  bool nft_variant_;
  // Per node, each written only by that node's thread (vector<bool> packs bits, so use char).
  std::vector<char> jumped_;
  std::vector<char> made_filter_table_;
  std::vector<char> filter_checked_;
  // Last: its threads use the members above, so it stops first.
  internal::NodeWorkers workers_;
};

}  // namespace

Result<std::unique_ptr<Net>> MakeIptablesNet(const NetConfig& config) {
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateConfig(kName, config));
  FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput version, RunProcess({"iptables-restore", "--version"}));
  if (version.exit_code != 0) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("nemesis: iptables net: iptables-restore --version: exit {}",
                                 version.exit_code));
  }
  const bool nft_variant = version.out.find("nf_tables") != std::string::npos;
  return std::unique_ptr<Net>(std::make_unique<IptablesNet>(config, nft_variant));
}

}  // namespace faultline::nemesis
