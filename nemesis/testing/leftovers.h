// For privileged tests: lists what faultline objects remain in a set of node namespaces (nft
// tables faultline_*, iptables chains faultline_* / fl_*, proto-250 routes, the fa17: qdisc) and
// which helper processes of a ledger still run.
//
// Thread-safety: thread-safe.
#ifndef FAULTLINE_NEMESIS_TESTING_LEFTOVERS_H_
#define FAULTLINE_NEMESIS_TESTING_LEFTOVERS_H_

#include <fmt/format.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/process.h"
#include "nemesis/internal/netns.h"
#include "nemesis/internal/nft.h"
#include "nemesis/internal/proc.h"
#include "nemesis/net.h"

namespace faultline::nemesis::testing {

// One line per leftover object ("n1: nft table inet faultline_r_loss3"), or an error line when a
// namespace could not be inspected. Empty = clean.
inline std::vector<std::string> Leftovers(const std::vector<NetNode>& nodes,
                                          const std::string& device = "eth0") {
  std::vector<std::string> netns;
  for (const auto& n : nodes) netns.push_back(n.netns);
  std::vector<std::vector<std::string>> found(nodes.size());
  const auto statuses = internal::RunInNetnsParallel(netns, [&](size_t i) -> Status {
    auto& out = found[i];
    const std::string& node = nodes[i].name;
    FAULTLINE_ASSIGN_OR_RETURN(internal::NftContext * ctx, internal::ThreadNftContext());
    FAULTLINE_ASSIGN_OR_RETURN(std::string tables, ctx->Run("list tables"));
    std::istringstream t(tables);
    for (std::string line; std::getline(t, line);) {
      if (line.find("faultline_") != std::string::npos) {
        out.push_back(fmt::format("{}: {}", node, line));
      }
    }
    FAULTLINE_ASSIGN_OR_RETURN(ProcessOutput save, RunProcess({"iptables-save", "-t", "filter"}));
    std::istringstream s(save.out);
    for (std::string line; std::getline(s, line);) {
      if (line.find("faultline_") != std::string::npos || line.find(" fl_") != std::string::npos ||
          line.rfind(":fl_", 0) == 0) {
        out.push_back(fmt::format("{}: iptables {}", node, line));
      }
    }
    FAULTLINE_ASSIGN_OR_RETURN(std::string routes,
                               RunProcessOk({"ip", "route", "show", "table", "all", "proto",
                                             std::to_string(kRouteProtocol)}));
    if (!routes.empty())
      out.push_back(fmt::format("{}: proto {} routes: {}", node, kRouteProtocol, routes));
    FAULTLINE_ASSIGN_OR_RETURN(std::string qdiscs,
                               RunProcessOk({"tc", "qdisc", "show", "dev", device}));
    if (qdiscs.find("fa17:") != std::string::npos) {
      out.push_back(fmt::format("{}: qdisc {}", node, qdiscs));
    }
    return OkStatus();
  });
  std::vector<std::string> all;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!statuses[i])
      all.push_back(nodes[i].name + ": cannot inspect: " + statuses[i].error().message());
    for (auto& f : found[i]) all.push_back(std::move(f));
  }
  return all;
}

// Helper processes (faultline-nemesis-helper) whose command line names `ledger_path`.
inline std::vector<int> HelperProcesses(const std::string& ledger_path) {
  return internal::FindProcesses({"faultline-nemesis-helper", ledger_path});
}

}  // namespace faultline::nemesis::testing

#endif  // FAULTLINE_NEMESIS_TESTING_LEFTOVERS_H_
