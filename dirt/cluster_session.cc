#include "dirt/cluster_session.h"

#include <fmt/format.h>

#include <utility>

namespace faultline::dirt {

cluster::ClusterSpec SpecFor(const Scenario& s, std::string name, std::string state_root,
                             const systems::System* system) {
  cluster::ClusterSpec spec;
  spec.name = std::move(name);
  spec.nodes = s.nodes;
  spec.db = system != nullptr ? system->Info().local_db : cluster::Db::kEtcd;
  spec.state_root = std::move(state_root);
  spec.etcd.pre_vote = s.db.pre_vote;
  spec.etcd.heartbeat_ms = s.db.heartbeat_ms;
  spec.etcd.election_ms = s.db.election_ms;
  spec.etcd.snapshot_count = s.db.snapshot_count;
  spec.etcd.corrupt_check = s.db.corrupt_check;
  return spec;
}

bool Matches(const cluster::ClusterState& state, const Scenario& s, const systems::System* system) {
  if (system != nullptr && system->Info().local_db != cluster::Db::kEtcd) {
    return static_cast<int>(state.nodes.size()) == s.nodes;
  }
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
  if (session_ && session_->owned() && !Matches(session_->state(), s, options_.system)) {
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
        cluster::Session::Open(SpecFor(s, options_.name, options_.state_root, options_.system),
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
    if (options_.system != nullptr) {
      if (Status attached = AttachSystem(); !attached) {
        (void)Finish();  // the attach error is the one to report
        return std::move(attached).error();
      }
    }
  }
  return std::cref(session_->state());
}

Status DrillClusters::AttachSystem() {
  systems::System& system = *options_.system;
  FAULTLINE_ASSIGN_OR_RETURN(nodes_, systems::LocalNodes(session_->state(), system.Info()));
  FAULTLINE_ASSIGN_OR_RETURN(shell_, cluster::MakeLocalControl(session_->state()));
  if (!session_->owned() || system.Info().local_db == cluster::Db::kEtcd) return OkStatus();
  formed_ = true;
  return system.Form(*nodes_, *shell_, std::chrono::seconds(60), [this](std::string_view line) {
    if (options_.progress) options_.progress(line);
  });
}

Status DrillClusters::Finish() {
  if (!session_) return OkStatus();
  Status stopped = OkStatus();
  if (formed_ && !options_.keep && nodes_ && shell_) {
    stopped = options_.system->Teardown(*nodes_, *shell_);
  }
  formed_ = false;
  shell_.reset();
  nodes_.reset();
  Result<cluster::DownReport> down = session_->Close(options_.keep);
  session_.reset();
  if (!down) return std::move(down).error();
  if (!stopped) return std::move(stopped).error().WithContext("stop the system's servers");
  return OkStatus();
}

}  // namespace faultline::dirt
