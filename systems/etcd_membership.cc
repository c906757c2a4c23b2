// etcd member remove / add (systems/internal/etcd_membership.h).
#include "systems/internal/etcd_membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster/http.h"
#include "common/ports.h"
#include "common/shell.h"

namespace faultline::systems::internal {
namespace {

using nlohmann::json;

// The gateway writes uint64s as strings; a number is taken too.
std::string IdString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  return {};
}

class EtcdMembership final : public nemesis::Membership {
 public:
  EtcdMembership(SystemCluster cluster, nemesis::NodeControl& control,
                 EtcdMembershipOptions options)
      : cluster_(std::move(cluster)), control_(control), options_(options) {}

  std::string_view Name() const override { return "etcd member API"; }

  // The supervisor starts a member with every node in --initial-cluster, so a member can join
  // only once every other node is a member again; and with --strict-reconfig-check etcd refuses
  // to add a second member while the first added is not started ("unhealthy cluster"). Two out
  // at once could never come back: one at a time.
  size_t MaxOut() const override { return 1; }

  Result<std::vector<std::string>> Members() override {
    FAULTLINE_ASSIGN_OR_RETURN(Listed listed, List(""));
    std::vector<std::string> out;
    for (const SystemNode& n : cluster_.nodes) {
      if (Find(listed.list, n) != nullptr) out.push_back(n.name);
    }
    return out;
  }

  Result<std::string> Remove(const std::string& name, const nemesis::MemberStep& step) override {
    FAULTLINE_ASSIGN_OR_RETURN(const SystemNode* node, Node(name));
    FAULTLINE_ASSIGN_OR_RETURN(Listed listed, List(name));
    std::vector<std::string> done;
    if (const EtcdMember* m = Find(listed.list, *node); m != nullptr) {
      FAULTLINE_ASSIGN_OR_RETURN(
          cluster::HttpResponse r,
          Change(*listed.via, "/v3/cluster/member/remove", json{{"ID", m->id}}.dump()));
      if (r.status != 200) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("etcd: member remove {} (id {}) through {}: HTTP {}: {}", name,
                                     m->id, listed.via->name, r.status, r.body));
      }
      done.push_back(fmt::format("member {} removed through {}", m->id, listed.via->name));
    } else {
      done.push_back("no member any more");
    }
    step("removed");
    FAULTLINE_ASSIGN_OR_RETURN(std::string stopped, StopAndWipe(*node, step));
    done.push_back(std::move(stopped));
    return fmt::format("{}", fmt::join(done, "; "));
  }

  // A member starts with every node in --initial-cluster (the supervisor's command line), and
  // etcd refuses to join unless the cluster then has exactly those members: so every node that is
  // no member is added back together with `name` (a heal restores them all anyway).
  Result<std::string> Add(const std::string& name, const nemesis::MemberStep& step) override {
    FAULTLINE_ASSIGN_OR_RETURN(const SystemNode* node, Node(name));
    FAULTLINE_ASSIGN_OR_RETURN(Listed listed, List(name));
    std::vector<std::string> done;
    std::vector<std::string> joining = {name};
    if (Find(listed.list, *node) != nullptr)
      done.push_back(fmt::format("{} a member already", name));
    for (const SystemNode& n : cluster_.nodes) {
      if (Find(listed.list, n) != nullptr) continue;
      if (n.name != name) joining.push_back(n.name);
      // A node that is no member must not come back with the data of its old membership (a
      // removal killed half way left its server running, or its data unwiped).
      FAULTLINE_ASSIGN_OR_RETURN(std::string stopped, StopAndWipe(n, {}));
      done.push_back(fmt::format("{}: {}", n.name, stopped));
      FAULTLINE_ASSIGN_OR_RETURN(cluster::HttpResponse r,
                                 Change(*listed.via, "/v3/cluster/member/add",
                                        json{{"peerURLs", json::array({EtcdPeerUrl(n)})}}.dump()));
      if (r.status != 200) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("etcd: member add {} ({}) through {}: HTTP {}: {}", n.name,
                                     EtcdPeerUrl(n), listed.via->name, r.status, r.body));
      }
      done.push_back(fmt::format("{} member added through {}", n.name, listed.via->name));
    }
    step("added");
    const std::vector<nemesis::ProcessReport> started =
        control_.Process(joining, nemesis::ProcessAction::kStart);
    for (size_t i = 0; i < joining.size(); ++i) {
      if (i >= started.size() || !started[i].ok) {
        return MakeError(
            ErrorCode::kUnavailable,
            fmt::format("etcd: start {}: {}", joining[i],
                        i >= started.size() || !started[i].error ? std::string("no report")
                                                                 : started[i].error->message()));
      }
      done.push_back(fmt::format("{}: {}", joining[i], started[i].mechanism));
    }
    // Started means published: the member has its name (an added member has none until then).
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::string last = "not asked yet";
    while (true) {
      Result<Listed> now = List(name);
      if (now) {
        last.clear();
        for (const std::string& j : joining) {
          const EtcdMember* m = Find(now->list, **Node(j));
          if (m == nullptr || m->name != j) {
            last += fmt::format("{}{}: {}", last.empty() ? "" : "; ", j,
                                m == nullptr ? "no member" : "not started yet");
          }
        }
        if (last.empty()) break;
      } else {
        last = now.error().message();
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return MakeError(
            ErrorCode::kDeadlineExceeded,
            fmt::format("etcd: {} did not join within {} ms: {}", fmt::join(joining, ","),
                        options_.start_timeout.count(), last));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    step("started");
    return fmt::format("{}", fmt::join(done, "; "));
  }

 private:
  struct Listed {
    EtcdMemberList list;
    const SystemNode* via = nullptr;  // the node that answered
  };

  Result<const SystemNode*> Node(const std::string& name) const {
    for (const SystemNode& n : cluster_.nodes) {
      if (n.name == name) return &n;
    }
    return MakeError(ErrorCode::kNotFound, fmt::format("etcd: no node named '{}'", name));
  }

  static const EtcdMember* Find(const EtcdMemberList& list, const SystemNode& node) {
    const std::string url = EtcdPeerUrl(node);
    for (const EtcdMember& m : list.members) {
      if (std::find(m.peer_urls.begin(), m.peer_urls.end(), url) != m.peer_urls.end()) return &m;
    }
    return nullptr;
  }

  Result<cluster::HttpResponse> Call(const SystemNode& node, std::string_view target,
                                     std::string_view body) const {
    cluster::HttpClient http(node.address, node.port);
    return http.Request("POST", target, body, options_.request_timeout);
  }

  // A member add or remove. With --strict-reconfig-check (3.4's default) etcd refuses a change
  // until every member has been connected for 5 s ("unhealthy cluster") or enough have started:
  // transient after a member joined, so such refusals are retried for change_timeout.
  Result<cluster::HttpResponse> Change(const SystemNode& node, std::string_view target,
                                       std::string_view body) const {
    const auto deadline = std::chrono::steady_clock::now() + options_.change_timeout;
    while (true) {
      Result<cluster::HttpResponse> r = Call(node, target, body);
      const bool transient = r && r->status == 503 &&
                             (r->body.find("unhealthy cluster") != std::string::npos ||
                              r->body.find("not enough started") != std::string::npos);
      if (!transient || std::chrono::steady_clock::now() >= deadline) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  // The member list as a member sees it (one that lists itself: a removed server still running
  // answers with its old view), asking every node but `avoid` first, then `avoid`.
  Result<Listed> List(const std::string& avoid) const {
    std::vector<const SystemNode*> order;
    for (const SystemNode& n : cluster_.nodes) {
      if (n.name != avoid) order.push_back(&n);
    }
    for (const SystemNode& n : cluster_.nodes) {
      if (n.name == avoid) order.push_back(&n);
    }
    std::vector<std::string> why;
    for (const SystemNode* n : order) {
      Result<cluster::HttpResponse> r = Call(*n, "/v3/cluster/member/list", "{}");
      if (!r) {
        why.push_back(fmt::format("{}: {}", n->name, r.error().message()));
        continue;
      }
      if (r->status != 200) {
        why.push_back(fmt::format("{}: HTTP {}", n->name, r->status));
        continue;
      }
      Result<EtcdMemberList> list = ParseEtcdMembers(r->body);
      if (!list) {
        why.push_back(fmt::format("{}: {}", n->name, list.error().message()));
        continue;
      }
      const bool listed = std::any_of(list->members.begin(), list->members.end(),
                                      [&](const EtcdMember& m) { return m.id == list->asked_id; });
      if (!listed) {
        why.push_back(fmt::format("{}: not a member itself", n->name));
        continue;
      }
      return Listed{.list = std::move(*list), .via = n};
    }
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("etcd: member list: no member answered ({})", fmt::join(why, "; ")));
  }

  // Kills the node's server through the node control and removes <data_dir>/member, so that its
  // next start joins afresh.
  Result<std::string> StopAndWipe(const SystemNode& node, const nemesis::MemberStep& step) {
    const std::vector<nemesis::ProcessReport> killed =
        control_.Process({node.name}, nemesis::ProcessAction::kKill);
    if (killed.empty() || !killed[0].ok) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("etcd: stop {}: {}", node.name,
                                                            killed.empty() || !killed[0].error
                                                                ? std::string("no report")
                                                                : killed[0].error->message()));
    }
    if (step) step("stopped");
    if (node.data_dir.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("etcd: wipe {}: its data dir is not known", node.name));
    }
    const std::string dir = node.data_dir + "/member";
    FAULTLINE_ASSIGN_OR_RETURN(nemesis::CommandOutput out,
                               control_.Run(node.name, "rm -rf -- " + ShellQuote(dir)));
    if (out.exit_code != 0) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("etcd: wipe {} on {}: exit {}: {}", dir,
                                                            node.name, out.exit_code, out.err));
    }
    if (step) step("wiped");
    return fmt::format("{}; wiped {}", killed[0].mechanism, dir);
  }

  SystemCluster cluster_;
  nemesis::NodeControl& control_;
  EtcdMembershipOptions options_;
};

}  // namespace

std::string EtcdPeerUrl(const SystemNode& node) {
  return fmt::format("http://{}:{}", node.address, kEtcdPeerPort);
}

Result<EtcdMemberList> ParseEtcdMembers(std::string_view body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd member list: not a JSON object");
  }
  EtcdMemberList out;
  if (auto h = j.find("header"); h != j.end() && h->is_object()) {
    if (auto id = h->find("member_id"); id != h->end()) out.asked_id = IdString(*id);
  }
  if (out.asked_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd member list: no header.member_id");
  }
  auto members = j.find("members");
  if (members == j.end() || !members->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd member list: no members array");
  }
  for (const json& m : *members) {
    if (!m.is_object()) continue;
    EtcdMember member;
    if (auto id = m.find("ID"); id != m.end()) member.id = IdString(*id);
    if (auto name = m.find("name"); name != m.end() && name->is_string()) {
      member.name = name->get<std::string>();
    }
    if (auto urls = m.find("peerURLs"); urls != m.end() && urls->is_array()) {
      for (const json& u : *urls) {
        if (u.is_string()) member.peer_urls.push_back(u.get<std::string>());
      }
    }
    if (member.id.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "etcd member list: a member without an ID");
    }
    out.members.push_back(std::move(member));
  }
  return out;
}

std::unique_ptr<nemesis::Membership> MakeEtcdMembership(const SystemCluster& cluster,
                                                        nemesis::NodeControl& control,
                                                        EtcdMembershipOptions options) {
  return std::make_unique<EtcdMembership>(cluster, control, options);
}

}  // namespace faultline::systems::internal
