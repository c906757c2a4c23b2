#include "nemesis/testing/netns_cluster.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "common/process.h"
#include "nemesis/internal/netns.h"

namespace faultline::nemesis::testing {
namespace {

constexpr std::string_view kPrefix = "fnm";

Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcessOk(argv);
  if (!r) return std::move(r).error().WithContext("netns cluster");
  return OkStatus();
}

// The pid in "fnm<pid><suffix>", or 0 if the name is not one of ours.
long OwnerPid(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return 0;
  size_t i = kPrefix.size();
  long pid = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) != 0) {
    pid = pid * 10 + (name[i] - '0');
    if (pid > 99999999) return 0;
    ++i;
  }
  if (i == kPrefix.size() || i == name.size()) return 0;
  return pid;
}

bool Alive(long pid) { return std::filesystem::exists(fmt::format("/proc/{}", pid)); }

std::vector<std::string> FirstWords(const std::string& text, char cut1, char cut2) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string w = line.substr(0, line.find_first_of(std::string{cut1, cut2}));
    if (!w.empty()) out.push_back(w);
  }
  return out;
}

std::vector<std::string> ListNetns() {
  auto out = RunProcessOk({"ip", "netns", "list"});
  return out ? FirstWords(*out, ' ', '\n') : std::vector<std::string>{};
}

std::vector<std::string> ListRootLinks() {
  // "12: fnm123h@if11: <BROADCAST..." -> "fnm123h"
  auto out = RunProcessOk({"ip", "-o", "link", "show"});
  std::vector<std::string> names;
  if (!out) return names;
  std::istringstream in(*out);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string rest = line.substr(colon + 2);
    names.push_back(rest.substr(0, rest.find_first_of("@:")));
  }
  return names;
}

}  // namespace

std::vector<std::string> NetnsCluster::CleanupLeftovers() {
  std::vector<std::string> removed;
  for (const auto& ns : ListNetns()) {
    const long pid = OwnerPid(ns);
    if (pid == 0 || Alive(pid)) continue;
    if (Ip({"netns", "del", ns})) removed.push_back("netns " + ns);
  }
  for (const auto& link : ListRootLinks()) {
    const long pid = OwnerPid(link);
    if (pid == 0 || Alive(pid)) continue;
    if (Ip({"link", "del", link})) removed.push_back("link " + link);
  }
  return removed;
}

Result<std::unique_ptr<NetnsCluster>> NetnsCluster::Create(int nodes) {
  if (nodes < 1 || nodes > 9) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("netns cluster: {} nodes: expected 1 to 9", nodes));
  }
  if (::geteuid() != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "netns cluster: building namespaces needs root (run the privileged tests as "
                     "root)");
  }
  CleanupLeftovers();
  std::unique_ptr<NetnsCluster> c(new NetnsCluster());
  c->prefix_ = fmt::format("{}{}", kPrefix, ::getpid());
  c->bridge_netns_ = c->prefix_ + "br";
  c->host_link_ = c->prefix_ + "h";

  // Pick a /24 nobody in the root namespace uses, and hold its lock for the cluster's lifetime.
  FAULTLINE_ASSIGN_OR_RETURN(std::string root_addrs, RunProcessOk({"ip", "-4", "-o", "addr"}));
  FAULTLINE_ASSIGN_OR_RETURN(std::string root_routes,
                             RunProcessOk({"ip", "-4", "route", "show", "table", "all"}));
  std::string subnet;
  for (int x = 64; x < 128 && subnet.empty(); ++x) {
    const std::string candidate = fmt::format("198.19.{}.", x);
    if (root_addrs.find(candidate) != std::string::npos ||
        root_routes.find(candidate) != std::string::npos) {
      continue;
    }
    const std::string lock = fmt::format("/run/lock/faultline-nemesis-198.19.{}.lock", x);
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      continue;
    }
    c->lock_fd_ = fd;
    subnet = candidate;
  }
  if (subnet.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     "netns cluster: no free /24 in 198.19.64.0/18 (too many clusters running?)");
  }
  c->control_address_ = subnet + "254";

  // Anything of ours from a process with our pid is stale (pid reuse): remove it first.
  for (const auto& ns : ListNetns()) {
    if (ns.rfind(c->prefix_, 0) == 0 && OwnerPid(ns) == ::getpid()) (void)Ip({"netns", "del", ns});
  }

  const auto build = [&]() -> Status {
    const std::string& br = c->bridge_netns_;
    FAULTLINE_RETURN_IF_ERROR(Ip({"netns", "add", br}));
    c->created_netns_.push_back(br);
    FAULTLINE_RETURN_IF_ERROR(Ip({"-n", br, "link", "set", "lo", "up"}));
    FAULTLINE_RETURN_IF_ERROR(Ip({"-n", br, "link", "add", "br0", "type", "bridge"}));
    FAULTLINE_RETURN_IF_ERROR(Ip({"-n", br, "link", "set", "br0", "up"}));
    for (int k = 1; k <= nodes; ++k) {
      const std::string ns = fmt::format("{}n{}", c->prefix_, k);
      const std::string port = fmt::format("p{}", k);
      const std::string address = fmt::format("{}{}", subnet, k);
      FAULTLINE_RETURN_IF_ERROR(Ip({"netns", "add", ns}));
      c->created_netns_.push_back(ns);
      FAULTLINE_RETURN_IF_ERROR(
          Ip({"-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns}));
      FAULTLINE_RETURN_IF_ERROR(Ip({"-n", br, "link", "set", port, "master", "br0", "up"}));
      FAULTLINE_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
      FAULTLINE_RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", address + "/24", "dev", "eth0"}));
      FAULTLINE_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "eth0", "up"}));
      c->nodes_.push_back({.name = fmt::format("n{}", k), .netns = ns, .address = address});
    }
    FAULTLINE_RETURN_IF_ERROR(
        Ip({"link", "add", c->host_link_, "type", "veth", "peer", "name", "host", "netns", br}));
    c->created_host_link_ = true;
    FAULTLINE_RETURN_IF_ERROR(Ip({"-n", br, "link", "set", "host", "master", "br0", "up"}));
    FAULTLINE_RETURN_IF_ERROR(
        Ip({"addr", "add", c->control_address_ + "/24", "dev", c->host_link_}));
    FAULTLINE_RETURN_IF_ERROR(Ip({"link", "set", c->host_link_, "up"}));
    return OkStatus();
  };
  if (Status s = build(); !s) {
    c->Teardown();
    return std::move(s).error();
  }
  return c;
}

NetnsCluster::~NetnsCluster() { Teardown(); }

void NetnsCluster::Teardown() {
  // Deleting a namespace destroys the veths in it, and with them their peers.
  for (auto it = created_netns_.rbegin(); it != created_netns_.rend(); ++it) {
    (void)Ip({"netns", "del", *it});
  }
  created_netns_.clear();
  if (created_host_link_) {
    for (const auto& link : ListRootLinks()) {
      if (link == host_link_) (void)Ip({"link", "del", host_link_});
    }
    created_host_link_ = false;
  }
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

NetConfig NetnsCluster::Config(const std::string& run_id) const {
  return NetConfig{.run_id = run_id, .nodes = nodes_};
}

std::vector<std::string> NetnsCluster::NodeNames() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n.name);
  return out;
}

}  // namespace faultline::nemesis::testing
