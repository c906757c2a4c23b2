// The child of dirt/crash_test.cc: runs one drill against a cluster that is already up and is
// killed on the way, by the drill's own FAULTLINE_KILL_POINT hook (dirt/internal/faults.h) or by
// the test at a random moment. Prints the drill's progress lines on stdout, so the test sees when
// the faults begin.
//
// Usage: dirt_crash_child CLUSTER STATE_DIR SCENARIO_FILE
#include <cstdio>
#include <string>

#include "cluster/cluster.h"
#include "dirt/drill.h"
#include "dirt/scenario.h"

int main(int argc, char** argv) {
  using namespace faultline;  // NOLINT: a test main
  if (argc != 4) {
    std::fprintf(stderr, "usage: dirt_crash_child CLUSTER STATE_DIR SCENARIO_FILE\n");
    return 3;
  }
  auto state = cluster::Load(argv[1], argv[2]);
  if (!state) {
    std::fprintf(stderr, "%s\n", state.error().message().c_str());
    return 3;
  }
  auto control = cluster::MakeLocalControl(*state);
  if (!control) {
    std::fprintf(stderr, "%s\n", control.error().message().c_str());
    return 3;
  }
  auto scenario = dirt::LoadScenario(argv[3]);
  if (!scenario) {
    std::fprintf(stderr, "%s\n", scenario.error().message().c_str());
    return 3;
  }
  dirt::DrillOptions options;
  options.progress = [](std::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  auto r = dirt::RunDrill(*state, **control, *scenario, options);
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    return 3;
  }
  std::printf("finished: %s\n", std::string(dirt::VerdictName(r->verdict)).c_str());
  return 0;
}
