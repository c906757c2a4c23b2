#include "dirt/cluster_session.h"

#include <fmt/format.h>

#include <utility>

namespace faultline::dirt {

cluster::ClusterSpec SpecFor(const Scenario& s, std::string name, std::string state_root) {
  cluster::ClusterSpec spec;
  spec.name = std::move(name);
  spec.nodes = s.nodes;
  spec.db = cluster::Db::kEtcd;
  spec.state_root = std::move(state_root);
  spec.etcd.pre_vote = s.db.pre_vote;
  spec.etcd.heartbeat_ms = s.db.heartbeat_ms;
  spec.etcd.election_ms = s.db.election_ms;
  spec.etcd.snapshot_count = s.db.snapshot_count;
  spec.etcd.corrupt_check = s.db.corrupt_check;
  return spec;
}

bool Matches(const cluster::ClusterState& state, const Scenario& s) {
  const cluster::EtcdSettings& e = state.etcd;
  return e.pre_vote == s.db.pre_vote && e.heartbeat_ms == s.db.heartbeat_ms &&
         e.election_ms == s.db.election_ms && e.snapshot_count == s.db.snapshot_count &&
         e.corrupt_check == s.db.corrupt_check && static_cast<int>(state.nodes.size()) == s.nodes;
}

Result<std::reference_wrapper<const cluster::ClusterState>> DrillClusters::For(const Scenario& s) {
  auto note = [this](const std::string& line) {
    if (options_.note) options_.note(line);
  };
  // A cluster of our own with other flags than this scenario pins: a recovery limit means nothing
  // unless the flags match, so it is replaced. One found up is the user's, used as it is.
  if (session_ && session_->owned() && !Matches(session_->state(), s)) {
    FAULTLINE_RETURN_IF_ERROR(Finish());
  }
  if (!session_) {
    if (!cluster::Load(options_.name, options_.state_root)) {
      note(fmt::format(
          "dirt: bringing cluster {} up for {} (pre-vote {}, heartbeat {} ms, election {} ms, "
          "snapshot count {}, corrupt check {})",
          options_.name, s.id, s.db.pre_vote, s.db.heartbeat_ms, s.db.election_ms,
          s.db.snapshot_count, s.db.corrupt_check));
    }
    FAULTLINE_ASSIGN_OR_RETURN(
        cluster::Session session,
        cluster::Session::Open(SpecFor(s, options_.name, options_.state_root),
                               [this](std::string_view line) {
                                 if (options_.progress) options_.progress(line);
                               }));
    if (!session.owned()) {
      note(fmt::format(
          "dirt: using cluster {} that is already up (its flags must match the scenarios' "
          "pinned flags)",
          options_.name));
    }
    session_ = std::move(session);
  }
  return std::cref(session_->state());
}

Status DrillClusters::Finish() {
  if (!session_) return OkStatus();
  Result<cluster::DownReport> down = session_->Close(options_.keep);
  session_.reset();
  if (!down) return std::move(down).error();
  return OkStatus();
}

}  // namespace faultline::dirt
