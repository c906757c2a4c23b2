#include "nemesis/packet.h"

#include <fmt/format.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "common/process.h"
#include "nemesis/internal/iptables_rules.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nft.h"
#include "nemesis/internal/nl.h"
#include "nemesis/packet_mangle.h"

namespace faultline::nemesis::packet {
namespace {

Error NlError(int err, std::string_view context) {
  return internal::NlError(err, context,
                           {.exists = "", .unsupported = " (tbf is not supported by this kernel)"});
}

Result<int> IfIndex(nl_sock* sock, const std::string& device) {
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock, 0, device.c_str(), &raw); err < 0) {
    return NlError(err, fmt::format("device {}", device));
  }
  internal::NlLinkPtr link(raw);
  return rtnl_link_get_ifindex(link.get());
}

struct RootQdisc {
  bool present = false;
  std::uint32_t handle = 0;
  std::string kind;
};

Result<RootQdisc> GetRoot(nl_sock* sock, int ifindex) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_qdisc_alloc_cache(sock, &raw); err < 0) {
    return NlError(err, "libnl: list qdiscs");
  }
  internal::NlCachePtr cache(raw);
  RootQdisc out;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* q = reinterpret_cast<rtnl_qdisc*>(obj);
    auto* tc = TC_CAST(q);
    if (rtnl_tc_get_ifindex(tc) != ifindex || rtnl_tc_get_parent(tc) != TC_H_ROOT) continue;
    out.present = true;
    out.handle = rtnl_tc_get_handle(tc);
    const char* kind = rtnl_tc_get_kind(tc);
    out.kind = kind != nullptr ? kind : "";
  }
  return out;
}

}  // namespace

std::string QueueChainName(const std::string& run_id, std::uint64_t id) {
  std::string name = fmt::format("faultline_{}_d{}", run_id, id);
  if (name.size() > 28) name = fmt::format("fl_{}_d{}", run_id, id);
  return name;
}

std::string LossTableName(const std::string& run_id, std::uint64_t id) {
  return fmt::format("faultline_{}_loss{}", run_id, id);
}

Status ApplyLoss(const std::string& table, const std::vector<std::string>& peer_addresses,
                 double probability) {
  const long threshold = std::lround(std::clamp(probability, 0.0, 1.0) * 10000.0);
  FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
  std::string script = fmt::format(
      "add table inet {0}\n"
      "add set inet {0} peers {{ type ipv4_addr; }}\n"
      "flush set inet {0} peers\n"
      "add chain inet {0} output {{ type filter hook output priority 0; policy accept; }}\n"
      "flush chain inet {0} output\n",
      table);
  if (!peer_addresses.empty()) {
    script +=
        fmt::format("add element inet {} peers {{ {} }}\n", table, fmt::join(peer_addresses, ", "));
  }
  if (threshold >= 10000) {
    script += fmt::format("add rule inet {} output ip daddr @peers drop\n", table);
  } else if (threshold > 0) {
    script +=
        fmt::format("add rule inet {} output ip daddr @peers numgen random mod 10000 < {} drop\n",
                    table, threshold);
  }
  auto done = ctx->Run(script);
  if (!done) return std::move(done).error().WithContext(fmt::format("nft table inet {}", table));
  return OkStatus();
}

Result<bool> HealLoss(const std::string& table) {
  FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
  auto done = ctx->Run(fmt::format("delete table inet {}", table));
  if (!done && done.error().code() == ErrorCode::kNotFound) return false;
  if (!done) return std::move(done).error().WithContext(fmt::format("delete table inet {}", table));
  return true;
}

Result<bool> FilterTableExists() {
  FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
  auto done = ctx->Run("list table ip filter");
  if (!done && done.error().code() == ErrorCode::kNotFound) return false;
  if (!done) return std::move(done).error().WithContext("list table ip filter");
  return true;
}

Status ApplyQueueChain(const std::string& chain, const std::vector<std::string>& peer_addresses,
                       int queue_num) {
  // Declaring an existing chain under --noflush flushes it, so a re-apply replaces the rules.
  std::string input = fmt::format("*filter\n:{} - [0:0]\n", chain);
  for (const auto& address : peer_addresses) {
    // Duplicates faultline sends carry kDuplicateMark: queueing them would copy them again.
    input += fmt::format(
        "-A {} -d {}/32 -m mark ! --mark {:#x} -j NFQUEUE --queue-num {} --queue-bypass\n", chain,
        address, kDuplicateMark, queue_num);
  }
  FAULTLINE_ASSIGN_OR_RETURN(std::string save, RunProcessOk({"iptables-save", "-t", "filter"}));
  if (internal::ParseIptablesSave(save, chain, "OUTPUT").jumps == 0)
    input += fmt::format("-I OUTPUT 1 -j {}\n", chain);
  input += "COMMIT\n";
  auto done = RunProcessOk({"iptables-restore", "--noflush"}, {.input = input});
  if (!done) return std::move(done).error();
  return OkStatus();
}

Result<bool> HealQueueChain(const std::string& chain, bool made_filter_table) {
  FAULTLINE_ASSIGN_OR_RETURN(bool table, FilterTableExists());
  if (!table) return false;
  FAULTLINE_ASSIGN_OR_RETURN(std::string save, RunProcessOk({"iptables-save", "-t", "filter"}));
  const internal::IptablesFilterTable before = internal::ParseIptablesSave(save, chain, "OUTPUT");
  if (before.has_chain || before.jumps > 0) {
    std::string input = "*filter\n";
    for (int i = 0; i < before.jumps; ++i) input += fmt::format("-D OUTPUT -j {}\n", chain);
    if (before.has_chain) input += fmt::format(":{0} - [0:0]\n-X {0}\n", chain);
    input += "COMMIT\n";
    FAULTLINE_RETURN_IF_ERROR(RunProcessOk({"iptables-restore", "--noflush"}, {.input = input}));
  }
  if (made_filter_table) {
    FAULTLINE_ASSIGN_OR_RETURN(std::string after, RunProcessOk({"iptables-save", "-t", "filter"}));
    const internal::IptablesFilterTable left = internal::ParseIptablesSave(after, chain, "OUTPUT");
    if (!left.foreign && !left.has_chain && left.jumps == 0) {
      FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
      auto done = ctx->Run("delete table ip filter");
      if (!done && done.error().code() != ErrorCode::kNotFound) {
        return std::move(done).error().WithContext("delete table ip filter");
      }
    }
  }
  return before.has_chain || before.jumps > 0;
}

Status ApplyTbf(const std::string& device, std::int64_t kbit_per_s) {
  if (kbit_per_s <= 0 || kbit_per_s > 10'000'000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("tbf: rate {} kbit/s is out of range (1..10000000)", kbit_per_s));
  }
  FAULTLINE_ASSIGN_OR_RETURN(internal::NlSockPtr sock, internal::ConnectRoute());
  FAULTLINE_ASSIGN_OR_RETURN(int ifindex, IfIndex(sock.get(), device));
  FAULTLINE_ASSIGN_OR_RETURN(RootQdisc root, GetRoot(sock.get(), ifindex));
  // The kernel's default root (noqueue on veth, pfifo_fast, mq) has handle 0: nobody made it.
  if (root.present && root.handle != 0 && root.handle != kQdiscHandle) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("tbf on {}: a root qdisc {} {:x}: exists that faultline did not "
                                 "make (left alone; remove it to shape this device)",
                                 device, root.kind, root.handle >> 16));
  }
  internal::NlQdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return MakeError(ErrorCode::kUnavailable, "libnl: cannot allocate a qdisc");
  auto* tc = TC_CAST(q.get());
  rtnl_tc_set_ifindex(tc, ifindex);
  rtnl_tc_set_parent(tc, TC_H_ROOT);
  rtnl_tc_set_handle(tc, kQdiscHandle);
  if (int err = rtnl_tc_set_kind(tc, "tbf"); err < 0) return NlError(err, "libnl: tbf kind");
  const std::int64_t rate_bytes = kbit_per_s * 1000 / 8;
  // The bucket must hold at least a full-size packet; 20 ms of traffic keeps shaping smooth.
  const int bucket = static_cast<int>(std::max<std::int64_t>(rate_bytes / 50, 4000));
  rtnl_qdisc_tbf_set_rate(q.get(), static_cast<int>(rate_bytes), bucket, 0);
  if (int err = rtnl_qdisc_tbf_set_limit_by_latency(q.get(), 50); err < 0) {
    return NlError(err, "libnl: tbf latency");
  }
  // Replace our own earlier tbf; CREATE|REPLACE also swaps the kernel's default root.
  if (int err = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0) {
    return NlError(err, fmt::format("tbf on {}: add root qdisc fa17:", device));
  }
  return OkStatus();
}

Result<bool> HealTbf(const std::string& device) {
  FAULTLINE_ASSIGN_OR_RETURN(internal::NlSockPtr sock, internal::ConnectRoute());
  auto ifindex = IfIndex(sock.get(), device);
  if (!ifindex && ifindex.error().code() == ErrorCode::kNotFound) return false;
  if (!ifindex) return std::move(ifindex).error();
  FAULTLINE_ASSIGN_OR_RETURN(RootQdisc root, GetRoot(sock.get(), *ifindex));
  if (!root.present || root.handle != kQdiscHandle) return false;
  internal::NlQdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return MakeError(ErrorCode::kUnavailable, "libnl: cannot allocate a qdisc");
  auto* tc = TC_CAST(q.get());
  rtnl_tc_set_ifindex(tc, *ifindex);
  rtnl_tc_set_parent(tc, TC_H_ROOT);
  rtnl_tc_set_handle(tc, kQdiscHandle);
  if (int err = rtnl_qdisc_delete(sock.get(), q.get()); err < 0) {
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOATTR) return false;
    return NlError(err, fmt::format("tbf on {}: delete root qdisc fa17:", device));
  }
  return true;
}

}  // namespace faultline::nemesis::packet
