#include "cluster/session.h"

#include <fmt/format.h>
#include <unistd.h>

#include <utility>

namespace faultline::cluster {

Result<Session> Session::Open(ClusterSpec spec, const Progress& progress) {
  Result<ClusterState> existing = Load(spec.name, spec.state_root);
  if (existing) return Session(std::move(*existing), false, spec.state_root);
  if (existing.error().code() != ErrorCode::kNotFound) {
    return std::move(existing).error().WithContext(fmt::format("cluster {}", spec.name));
  }
  spec.owner_pid = ::getpid();
  FAULTLINE_ASSIGN_OR_RETURN(ClusterState state, Up(spec, progress));
  return Session(std::move(state), true, spec.state_root);
}

Session::Session(Session&& other) noexcept
    : state_(std::exchange(other.state_, std::nullopt)),
      owned_(std::exchange(other.owned_, false)),
      state_root_(std::move(other.state_root_)) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    (void)Close();
    state_ = std::exchange(other.state_, std::nullopt);
    owned_ = std::exchange(other.owned_, false);
    state_root_ = std::move(other.state_root_);
  }
  return *this;
}

Session::~Session() { (void)Close(); }

Result<DownReport> Session::Close(bool keep) {
  if (!state_) return DownReport{};
  const ClusterState state = *std::exchange(state_, std::nullopt);
  if (!std::exchange(owned_, false)) return DownReport{};
  if (keep) {
    FAULTLINE_RETURN_IF_ERROR(Disown(state));
    return DownReport{};
  }
  return Down(state.name, state_root_);
}

}  // namespace faultline::cluster
