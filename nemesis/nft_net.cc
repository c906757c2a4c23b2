// The nft backend: one table `inet faultline_<run>` per node, installed and removed in-process
// with libnftables on a thread inside the node's network namespace.
#include <fmt/format.h>

#include "nemesis/internal/backend.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nft.h"
#include "nemesis/net.h"

namespace faultline::nemesis {
namespace {

constexpr std::string_view kName = "nft";

std::vector<std::string> RulesFor(PartitionMode mode) {
  switch (mode) {
    case PartitionMode::kDrop:
      return {"ip saddr @peers drop"};
    case PartitionMode::kReject:
      return {"ip saddr @peers meta l4proto tcp reject with tcp reset",
              "ip saddr @peers reject with icmpx type admin-prohibited"};
    case PartitionMode::kNewOnly:
      return {"ip saddr @peers ct state new drop"};
  }
  return {};
}

class NftNet final : public Net {
 public:
  explicit NftNet(NetConfig config)
      : config_(std::move(config)),
        table_("faultline_" + config_.run_id),
        workers_(internal::NetnsOf(config_)) {}

  std::string_view Name() const override { return kName; }
  bool Supports(PartitionMode) const override { return true; }

  Result<NetReport> Apply(const Grudge& grudge, PartitionMode mode) override {
    FAULTLINE_ASSIGN_OR_RETURN(Grudge g, internal::ValidateGrudge(kName, config_, grudge));
    std::vector<NodeReport> nodes = internal::PendingReports(config_, g);
    std::vector<internal::ConntrackOutcome> conntrack(config_.nodes.size());
    const auto statuses = workers_.ForEach([&](size_t i) -> Status {
      NodeReport& r = nodes[i];
      r.mechanism = r.peers.empty()
                        ? fmt::format("nft: no table inet {} (drops nothing)", table_)
                        : fmt::format("nft table inet {}: input hook, {} from {} peer(s)", table_,
                                      PartitionModeName(mode), r.peers.size());
      FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
      if (r.peers.empty()) {
        // Remove an earlier partition of ours, if any; a missing table is what we want.
        auto done = ctx->Run(fmt::format("delete table inet {}", table_));
        if (!done && done.error().code() != ErrorCode::kNotFound) return std::move(done).error();
        r.needs_heal = false;
        return OkStatus();
      }
      // One atomic transaction that works whether or not the table exists: "add" is idempotent
      // and the flushes replace an earlier partition's peers and rules. It deletes no table or
      // chain, because removing a base chain waits for an RCU grace period (~8-20 ms on a busy
      // machine): only heal pays that.
      std::string script = fmt::format(
          "add table inet {0}\n"
          "add set inet {0} peers {{ type ipv4_addr; }}\n"
          "flush set inet {0} peers\n"
          "add element inet {0} peers {{ {1} }}\n"
          "add chain inet {0} input {{ type filter hook input priority -10; policy accept; }}\n"
          "flush chain inet {0} input\n",
          table_, fmt::join(internal::PeerAddresses(config_, r.peers), ", "));
      for (const auto& rule : RulesFor(mode)) {
        script += fmt::format("add rule inet {} input {}\n", table_, rule);
      }
      FAULTLINE_RETURN_IF_ERROR(ctx->Run(script));
      if (mode == PartitionMode::kNewOnly && !r.peers.empty()) {
        conntrack[i] = internal::CutEstablishedFlows(config_, r.peers);
      }
      r.needs_heal = !r.peers.empty();
      return OkStatus();
    });
    return internal::ApplyReport(kName, mode, config_, std::move(nodes), statuses, g, conntrack);
  }

  NetReport Heal() override {
    std::vector<NodeReport> nodes(config_.nodes.size());
    const auto statuses = workers_.ForEach([&](size_t i) -> Status {
      NodeReport& r = nodes[i];
      r.mechanism = fmt::format("nft delete table inet {}", table_);
      FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
      auto done = ctx->Run(fmt::format("delete table inet {}", table_));
      if (!done && done.error().code() == ErrorCode::kNotFound) {
        r.mechanism = fmt::format("nft: no table inet {} (already healed)", table_);
        return OkStatus();
      }
      if (!done) return std::move(done).error();
      return OkStatus();
    });
    return internal::MakeReport(kName, "heal", PartitionMode::kDrop, config_, std::move(nodes),
                                statuses);
  }

 private:
  NetConfig config_;
  std::string table_;
  internal::NodeWorkers workers_;
};

}  // namespace

Result<std::unique_ptr<Net>> MakeNftNet(const NetConfig& config) {
  FAULTLINE_RETURN_IF_ERROR(internal::ValidateConfig(kName, config));
  return std::unique_ptr<Net>(std::make_unique<NftNet>(config));
}

}  // namespace faultline::nemesis
