#include "cluster/ssh_nemesis.h"

#include <fmt/format.h>

#include <cassert>
#include <utility>

#include "cluster/nodes_file.h"
#include "nemesis/command_net.h"

namespace faultline::cluster {

Result<SshNemesis> OpenSshNemesis(std::unique_ptr<SshControl> control,
                                  nemesis::NemesisOptions options) {
  assert(control != nullptr);
  const NodesFile& file = control->nodes_file();
  if (options.backend != nemesis::BackendKind::kAuto) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("nodes file of cluster {}: partition backend {}: over ssh "
                                 "partitions use iptables-restore through ssh (leave the backend "
                                 "on auto)",
                                 file.cluster, nemesis::BackendName(options.backend)));
  }
  SshNemesis s;
  s.control = std::move(control);
  options.net = SshNetConfig(file, kSshRunId);
  nemesis::NodeControl* raw = s.control.get();
  // A control the caller set (a system's, whose commands run over this one) does process faults.
  if (options.control == nullptr) options.control = raw;
  options.make_net = [raw](const nemesis::NetConfig& config) {
    return nemesis::MakeCommandNet(config, *raw);
  };
  FAULTLINE_ASSIGN_OR_RETURN(s.nemesis, nemesis::Nemesis::Open(options));
  return s;
}

Result<SshNemesis> OpenSshNemesis(const std::string& nodes_file_path,
                                  nemesis::NemesisOptions options, const SshControlOptions& ssh) {
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<SshControl> control,
                             MakeSshControl(nodes_file_path, ssh));
  return OpenSshNemesis(std::move(control), std::move(options));
}

}  // namespace faultline::cluster
