// Test helper for nemesis_crash_test: applies faults through a Nemesis and is killed (by itself
// through FAULTLINE_CRASH_AT, or by the test after a random delay) somewhere along the way.
//
//   nemesis_crash_child --ledger PATH --run RUN --backend nft|netlink --control ADDR
//                       --faults partition,loss,delay,duplicate,reorder,packet-corrupt,
//                                bandwidth,pause[,heal]
//                       --node NAME:NETNS:ADDRESS:DBPID ... [--faketime-dir DIR]
// With --faketime-dir, clock faults are allowed too (clock-bump, clock-strobe): each node's
// libfaketime timestamp file is DIR/<node>.rc.
// Prints "go" on stdout right before the first fault, then applies the faults in order (and heals
// if "heal" is listed), and exits 0.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "nemesis/grudge.h"
#include "nemesis/nemesis.h"
#include "nemesis/testing/fake_node_control.h"

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "crash child: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace faultline::nemesis;  // NOLINT: a test main
  std::vector<std::string> args(argv + 1, argv + argc);
  NemesisOptions options;
  options.heal_on_open = false;
  std::vector<int> pids;
  std::vector<std::string> faults;
  std::string faketime_dir;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    const std::string& v = args[i + 1];
    if (k == "--ledger") options.ledger_path = v;
    if (k == "--run") options.net.run_id = v;
    if (k == "--control") options.control_address = v;
    if (k == "--backend") {
      auto kind = ParseBackendKind(v);
      if (!kind) return Fail(kind.error().message());
      options.backend = *kind;
    }
    if (k == "--faults") faults = Split(v, ',');
    if (k == "--faketime-dir") faketime_dir = v;
    if (k == "--node") {
      const auto parts = Split(v, ':');
      if (parts.size() != 4) return Fail("bad --node " + v);
      options.net.nodes.push_back(
          NetNode{.name = parts[0], .netns = parts[1], .address = parts[2]});
      pids.push_back(std::atoi(parts[3].c_str()));
    }
  }
  if (!faketime_dir.empty()) {
    for (const auto& n : options.net.nodes) {
      options.clock.faketime_files[n.name] = faketime_dir + "/" + n.name + ".rc";
    }
  }
  testing::FakeNodeControl control(options.net.nodes, pids);
  options.control = &control;
  auto nemesis = Nemesis::Open(options);
  if (!nemesis) return Fail(nemesis.error().message());
  std::vector<std::string> names;
  for (const auto& n : options.net.nodes) names.push_back(n.name);
  std::printf("go\n");
  std::fflush(stdout);
  for (const auto& f : faults) {
    faultline::Result<FaultReport> r = FaultReport{};
    if (f == "partition") {
      auto grudge = MajoritiesRing(names, 7);
      if (!grudge) return Fail(grudge.error().message());
      r = (*nemesis)->Partition(*grudge, PartitionMode::kDrop);
    } else if (f == "loss") {
      r = (*nemesis)->Loss(names, {}, 0.3, false);
    } else if (f == "delay") {
      r = (*nemesis)->Delay(names, {}, std::chrono::milliseconds(5), std::chrono::milliseconds(1),
                            false);
    } else if (f == "duplicate" || f == "reorder" || f == "packet-corrupt") {
      auto kind = ParseFaultKind(f);
      if (!kind) return Fail(kind.error().message());
      r = (*nemesis)->Mangle(names, {},
                             {.kind = *kind,
                              .share = 0.3,
                              .delay = std::chrono::milliseconds(5),
                              .jitter = std::chrono::milliseconds(1)},
                             false);
    } else if (f == "bandwidth") {
      r = (*nemesis)->Bandwidth(names, 10000);
    } else if (f == "pause") {
      r = (*nemesis)->Process(names, ProcessAction::kPause);
    } else if (f == "clock-bump" || f == "clock-strobe") {
      FaultSpec spec;
      spec.kind = f == "clock-bump" ? FaultKind::kClockBump : FaultKind::kClockStrobe;
      spec.clock_offset = std::chrono::milliseconds(-1500);
      if (f == "clock-strobe") spec.clock_period = std::chrono::milliseconds(20);
      r = (*nemesis)->Clock(spec, names);
    } else if (f == "heal") {
      r = (*nemesis)->HealAll();
    } else {
      return Fail("unknown fault " + f);
    }
    if (!r) return Fail(f + ": " + r.error().message());
    if (!r->ok) return Fail(r->Describe());
  }
  return 0;
}
