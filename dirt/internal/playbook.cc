#include "dirt/internal/playbook.h"

#include <fmt/format.h>

#include <set>
#include <thread>

#include "cluster/http.h"
#include "dirt/internal/etcd.h"
#include "dirt/internal/system_probe.h"
#include "dirt/internal/time.h"

namespace faultline::dirt::internal {

using std::chrono::milliseconds;

bool RepairMember(const cluster::ClusterState& state, const Scenario& s, const std::string& name,
                  nemesis::NodeControl& control, FaultApplier& faults, DrillRecord& record,
                  const FaultApplier::SetPolicy& set_policy) {
  const cluster::NodeState* n = nullptr;
  for (const auto& node : state.nodes) {
    if (node.name == name) n = &node;
  }
  if (n == nullptr) return false;
  record.Progress(fmt::format("{} playbook: repairing {}", s.id, name));
  const milliseconds t(3000);
  record.AddEvent("playbook", "repair-begin", name,
                  "member cannot start on its data: remove, wipe, re-add", true);
  if (s.restart.enabled) set_policy(false, "repair of " + name);
  (void)faults.Process("playbook", "stop", {name}, nemesis::ProcessAction::kKill);
  // Membership changes are retried across healthy peers: right after a removal etcd 3.4's
  // strict reconfiguration check refuses an add ("unhealthy cluster") until every voting
  // member has been connected for its health interval.
  bool ok = false;
  bool removed = false;
  MonoTime deadline = MonoNow() + std::chrono::seconds(20);
  while (!removed && MonoNow() < deadline) {
    for (const auto& peer : state.nodes) {
      if (peer.name == name) continue;
      cluster::HttpClient c(peer.ClientUrl());
      auto members = EtcdMemberList(c, t);
      if (!members) continue;
      std::uint64_t id = 0;
      for (const auto& m : *members) {
        for (const auto& u : m.peer_urls) {
          if (u == n->PeerUrl()) id = m.id;
        }
      }
      if (id == 0) {
        record.AddEvent("playbook", "member-remove", name, "not a member (any more)", true);
        removed = true;
        break;
      }
      Status st = EtcdMemberRemove(c, id, t);
      record.AddEvent("playbook", "member-remove", name,
                      fmt::format("member {:x} through {}{}", id, peer.name,
                                  st ? "" : ": " + st.error().message()),
                      static_cast<bool>(st));
      if (st) {
        removed = true;
        break;
      }
    }
    if (!removed) std::this_thread::sleep_for(milliseconds(500));
  }
  bool wiped = false;
  if (removed) {
    auto wipe = control.Run(name, fmt::format("rm -rf -- '{}/member'", n->data_dir));
    wiped = wipe && wipe->exit_code == 0;
    record.AddEvent("playbook", "wipe", name,
                    fmt::format("rm -rf {}/member{}", n->data_dir,
                                wiped ? "" : ": " + (wipe ? wipe->err : wipe.error().message())),
                    wiped);
  }
  deadline = MonoNow() + std::chrono::seconds(30);
  std::string last_error;
  while (wiped && !ok && MonoNow() < deadline) {
    for (const auto& peer : state.nodes) {
      if (peer.name == name) continue;
      cluster::HttpClient c(peer.ClientUrl());
      auto added = EtcdMemberAdd(c, n->PeerUrl(), t);
      if (added) {
        record.AddEvent(
            "playbook", "member-add", name,
            fmt::format("{} as member {:x} through {}{}", n->PeerUrl(), *added, peer.name,
                        last_error.empty() ? "" : " (earlier: " + last_error + ")"),
            true);
        ok = true;
        break;
      }
      last_error = added.error().message();
    }
    if (!ok) std::this_thread::sleep_for(milliseconds(500));
  }
  if (wiped && !ok) record.AddEvent("playbook", "member-add", name, last_error, false);
  if (ok) {
    ok = faults.Process("playbook", std::string(FaultKindName(FaultKind::kStart)), {name},
                        nemesis::ProcessAction::kStart);
  }
  if (s.restart.enabled) set_policy(true, "repair of " + name + " done");
  if (ok) {
    ok = false;
    cluster::HttpClient c(n->ClientUrl());
    deadline = MonoNow() + std::chrono::seconds(30);
    while (MonoNow() < deadline) {
      auto h = EtcdHealth(c, milliseconds(500));
      if (h && *h) {
        ok = true;
        break;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  record.AddEvent("playbook", "repair-end", name, ok ? "member serves again" : "repair failed", ok);
  return ok;
}

void PostChecks(const cluster::ClusterState& state, const Scenario& s, DrillRecord& record) {
  const MonoTime deadline = MonoNow() + std::chrono::seconds(20);
  const std::string key = fmt::format("faultline/dirt/{}/after", s.id);
  bool serves = false;
  while (MonoNow() < deadline && !serves) {
    for (const auto& n : state.nodes) {
      cluster::HttpClient c(n.ClientUrl());
      if (EtcdPut(c, key, "ok", milliseconds(1000)) &&
          EtcdGet(c, key, milliseconds(1000)).value_or("") == "ok") {
        serves = true;
        record.AddEvent("check", "serves-after", n.name, "a write then a read succeeded", true);
        break;
      }
    }
    if (!serves) std::this_thread::sleep_for(milliseconds(200));
  }
  record.Update([&](DrillResult& r) { r.serves_after = serves; });
  if (!serves) {
    record.AddEvent("check", "serves-after", "", "no write then read succeeded within 20 s", false);
  }
  // HashKV at one revision on every member; members may lag a moment behind.
  std::int64_t rev = 0;
  {
    for (const auto& n : state.nodes) {
      cluster::HttpClient cn(n.ClientUrl());
      if (auto st = EtcdMaintenanceStatus(cn, milliseconds(1000))) {
        rev = std::max(rev, st->revision);
      }
    }
  }
  if (rev == 0) return;
  std::string detail;
  bool equal = false;
  const MonoTime hash_deadline = MonoNow() + std::chrono::seconds(15);
  for (int attempt = 0; attempt < 20 && !equal && MonoNow() < hash_deadline; ++attempt) {
    std::set<std::uint32_t> hashes;
    detail.clear();
    bool all = true;
    for (const auto& n : state.nodes) {
      cluster::HttpClient c(n.ClientUrl());
      auto h = EtcdHashKv(c, rev, milliseconds(2000));
      if (!h) {
        all = false;
        detail += fmt::format("{} error ({}); ", n.name, h.error().message());
        continue;
      }
      hashes.insert(h->hash);
      detail += fmt::format("{} {:08x}; ", n.name, h->hash);
    }
    equal = all && hashes.size() == 1;
    if (!equal) std::this_thread::sleep_for(milliseconds(250));
  }
  record.Update([&](DrillResult& r) { r.hashes_equal = equal; });
  record.AddEvent(
      "check", "hashkv", "",
      fmt::format("at revision {}: {}{}", rev, detail, equal ? "all equal" : "NOT all equal"),
      equal);
}

void SystemPostChecks(const DrillOptions& options, const Scenario& s, DrillRecord& record) {
  const std::string system = options.system->Info().name;
  auto probe = SystemProbe::Make(*options.system, *options.system_nodes, *options.system_shell,
                                 milliseconds(1000));
  bool serves = false;
  std::string last;
  if (!probe) last = probe.error().message();
  const MonoTime deadline = MonoNow() + std::chrono::seconds(20);
  for (std::int64_t attempt = 1; probe && MonoNow() < deadline && !serves; ++attempt) {
    for (size_t i = 0; i < (*probe)->size() && !serves; ++i) {
      Status w = (*probe)->Write(i, kProbeKeyAfter, attempt);
      auto got =
          w ? (*probe)->Read(i, kProbeKeyAfter) : Result<std::optional<std::int64_t>>(w.error());
      if (got && *got == attempt) {
        serves = true;
        record.AddEvent("check", "serves-after", options.system_nodes->nodes[i].name,
                        "a write then a read succeeded", true);
      } else if (!got) {
        last = got.error().message();
      }
    }
    if (!serves) std::this_thread::sleep_for(milliseconds(200));
  }
  record.Update([&](DrillResult& r) {
    r.serves_after = serves;
    r.notes.push_back(
        fmt::format("{}: {}: replicas not compared after the drill (HashKV is etcd's; {} has no "
                    "counterpart faultline uses)",
                    s.id, system, system));
  });
  if (!serves) {
    record.AddEvent("check", "serves-after", "",
                    "no write then read succeeded within 20 s" + (last.empty() ? "" : ": " + last),
                    false);
  }
}

}  // namespace faultline::dirt::internal
