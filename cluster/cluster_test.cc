// Privileged tests of the local cluster: namespaces, etcd, the supervisor, node control, Down and
// crash recovery. Need root, etcd (etcd-server) and iproute2; they fail, not skip, without them.
#include "cluster/cluster.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cluster/http.h"
#include "cluster/internal/util.h"
#include "cluster/session.h"
#include "common/file.h"
#include "common/ports.h"

namespace faultline::cluster {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Crash tests re-run this binary with FAULTLINE_TEST_CLUSTER_UP=<name>:<state root> and
// FAULTLINE_CRASH_AT: it then only calls Up (which SIGKILLs the process at that point) before
// main() runs. The supervisor this binary may spawn must not do it again, hence the check.
[[maybe_unused]] const bool kUpOnlyHook = [] {
  const char* spec = std::getenv("FAULTLINE_TEST_CLUSTER_UP");
  if (spec == nullptr || std::getenv("FAULTLINE_CLUSTER_SUPERVISOR") != nullptr) return false;
  const std::string s(spec);
  ::unsetenv("FAULTLINE_TEST_CLUSTER_UP");
  ClusterSpec c;
  c.name = s.substr(0, s.find(':'));
  c.state_root = s.substr(s.find(':') + 1);
  c.nodes = 3;
  auto r = Up(c);
  std::fprintf(stderr, "up returned without crashing: %s\n",
               r ? "ok" : r.error().message().c_str());
  _exit(r ? 0 : 3);
}();

// Owner tests re-run this binary with FAULTLINE_TEST_OWNER=<own|disown>:<name>:<state root>: it
// then opens a session (bringing the cluster up with itself as owner), disowns it in mode
// "disown", writes <state root>/<name>.up and waits to be killed.
[[maybe_unused]] const bool kOwnerHook = [] {
  const char* spec = std::getenv("FAULTLINE_TEST_OWNER");
  if (spec == nullptr || std::getenv("FAULTLINE_CLUSTER_SUPERVISOR") != nullptr) return false;
  const std::string s(spec);
  ::unsetenv("FAULTLINE_TEST_OWNER");
  const size_t a = s.find(':');
  const size_t b = s.find(':', a + 1);
  ClusterSpec c;
  c.name = s.substr(a + 1, b - a - 1);
  c.state_root = s.substr(b + 1);
  c.nodes = 3;
  auto session = Session::Open(c);
  Status ready = session ? OkStatus() : Status(session.error());
  if (ready && s.substr(0, a) == "disown") {
    auto closed = session->Close(/*keep=*/true);
    if (!closed) ready = closed.error();
  }
  if (!ready) {
    std::fprintf(stderr, "owner: %s\n", ready.error().message().c_str());
    _exit(3);
  }
  std::ofstream(fmt::format("{}/{}.up", c.state_root, c.name)) << "up\n";
  for (;;) ::pause();
}();

std::string UniqueName(char tag) { return fmt::format("{}{}", tag, ::getpid() % 1000000); }

std::string TempRoot() {
  const std::string root = fmt::format("/tmp/flct{}", ::getpid());
  fs::create_directories(root);
  return root;
}

// Removes a test's state root once no cluster is recorded in it (fs::remove keeps non-empty dirs).
void RemoveRootIfEmpty(const std::string& root) {
  std::error_code ec;
  fs::remove(root + "/clusters", ec);
  fs::remove(root, ec);
}

// Everything the cluster made is gone: namespaces, link, processes, cgroups, run dir.
void ExpectGone(const ClusterState& s) {
  const std::string prefix = fmt::format("fl-{}-", s.name);
  for (const auto& ns : internal::ListNetns()) {
    EXPECT_NE(ns.rfind(prefix, 0), 0u) << "namespace left: " << ns;
  }
  EXPECT_FALSE(fs::exists("/sys/class/net/" + s.host_link)) << s.host_link;
  if (s.supervisor_pid > 0) {
    EXPECT_FALSE(internal::ProcessAlive(s.supervisor_pid, s.supervisor_start_time));
  }
  for (const auto& n : s.nodes) {
    if (n.db_pid > 0) {
      EXPECT_FALSE(internal::ProcessAlive(n.db_pid, n.db_start_time)) << n.name << " etcd";
    }
    for (const auto& [ctl, path] : n.cgroups) EXPECT_FALSE(fs::exists(path)) << path;
  }
  EXPECT_FALSE(fs::exists(s.run_dir)) << s.run_dir;
}

// Brings a cluster up and always takes it down.
class ClusterFixture {
 public:
  explicit ClusterFixture(ClusterSpec spec) : spec_(std::move(spec)) {
    auto s = Up(spec_, [](std::string_view line) {
      std::fprintf(stderr, "  %.*s\n", static_cast<int>(line.size()), line.data());
    });
    if (s) {
      state_ = std::move(*s);
    } else {
      error_ = s.error().message();
    }
  }
  ~ClusterFixture() {
    (void)Down(spec_.name, spec_.state_root);
    RemoveRootIfEmpty(spec_.state_root);
  }
  ClusterFixture(const ClusterFixture&) = delete;
  ClusterFixture& operator=(const ClusterFixture&) = delete;

  bool ok() const { return state_.has_value(); }
  const std::string& error() const { return error_; }
  const ClusterState& state() const { return *state_; }
  const ClusterSpec& spec() const { return spec_; }

 private:
  ClusterSpec spec_;
  std::optional<ClusterState> state_;
  std::string error_;
};

ClusterSpec Spec(char tag, int nodes = 3) {
  ClusterSpec s;
  s.name = UniqueName(tag);
  s.nodes = nodes;
  s.state_root = TempRoot();
  return s;
}

const NodeState& Node(const ClusterState& s, const std::string& name) {
  for (const auto& n : s.nodes) {
    if (n.name == name) return n;
  }
  return s.nodes.front();
}

Result<HttpResponse> Post(const NodeState& n, const std::string& target, const std::string& body,
                          milliseconds timeout) {
  HttpClient c(n.address, kEtcdClientPort);
  return c.Request("POST", target, body, timeout);
}

// Waits until `pred` holds, polling every 50 ms.
template <typename Pred>
bool WaitFor(Pred pred, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return pred();
}

bool NodeHealthy(const ClusterState& s, const std::string& node) {
  auto st = ProbeStatus(s);
  if (!st) return false;
  for (const auto& n : st->nodes) {
    if (n.name == node) return n.healthy && n.db.alive;
  }
  return false;
}

TEST(ClusterTest, UpStatusKvRunAndDownFromFreshState) {
  ClusterFixture c(Spec('u'));
  ASSERT_TRUE(c.ok()) << c.error();
  const ClusterState& s = c.state();
  ASSERT_EQ(s.nodes.size(), 3u);
  EXPECT_TRUE(fs::exists(s.run_dir + "/cluster.json"));
  EXPECT_GT(s.supervisor_pid, 0);
  EXPECT_TRUE(internal::ProcessAlive(s.supervisor_pid, s.supervisor_start_time));
  for (const auto& n : s.nodes) {
    EXPECT_TRUE(internal::ProcessAlive(n.db_pid, n.db_start_time)) << n.name;
    EXPECT_FALSE(n.cgroups.empty()) << n.name;
    for (const auto& [ctl, path] : n.cgroups) {
      auto procs = ReadFile(path + "/cgroup.procs");
      ASSERT_TRUE(procs) << path;
      EXPECT_NE(procs->find(std::to_string(n.db_pid)), std::string::npos)
          << n.name << " etcd not in " << path;
    }
  }

  auto st = ProbeStatus(s);
  ASSERT_TRUE(st) << st.error().message();
  ASSERT_TRUE(st->leader.has_value());
  EXPECT_FALSE(st->disagreement.has_value()) << *st->disagreement;
  for (const auto& n : st->nodes) {
    EXPECT_TRUE(n.healthy) << n.name << ": " << n.probe_error.value_or("");
    EXPECT_TRUE(n.db.alive) << n.name;
    EXPECT_EQ(n.leader_claim, st->leader) << n.name;
  }

  // A put and a linearizable range through the gateway from the root namespace.
  auto put = Post(s.nodes[1], "/v3/kv/put", R"({"key":"Zm9v","value":"YmFy"})", milliseconds(5000));
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(put->status, 200) << put->body;
  auto range = Post(s.nodes[2], "/v3/kv/range", R"({"key":"Zm9v"})", milliseconds(5000));
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_NE(range->body.find("\"value\":\"YmFy\""), std::string::npos) << range->body;

  // Run() executes inside the node's namespace.
  auto ctl = MakeLocalControl(s);
  ASSERT_TRUE(ctl);
  EXPECT_EQ((*ctl)->Nodes(), s.NodeNames());
  auto addr = (*ctl)->Run("n2", "ip -o addr show eth0");
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_EQ(addr->exit_code, 0) << addr->err;
  EXPECT_NE(addr->out.find(Node(s, "n2").address + "/24"), std::string::npos) << addr->out;
  auto route = (*ctl)->Run("n2", "ip route");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->out.find("default"), std::string::npos) << route->out;
  EXPECT_NE(route->out.find(s.subnet.substr(0, s.subnet.find('/'))), std::string::npos)
      << route->out;
  auto echo = (*ctl)->Run("n1", "cat; echo err >&2; exit 7", "hello");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->exit_code, 7);
  EXPECT_EQ(echo->out, "hello");
  EXPECT_EQ(echo->err, "err\n");
  EXPECT_FALSE((*ctl)->Run("n9", "true"));

  // Down from a fresh load of the state file, twice.
  auto loaded = Load(s.name, c.spec().state_root);
  ASSERT_TRUE(loaded) << loaded.error().message();
  auto down = Down(s.name, c.spec().state_root);
  ASSERT_TRUE(down) << down.error().message();
  EXPECT_TRUE(down->warnings.empty()) << down->warnings.front();
  ExpectGone(*loaded);
  auto again = Down(s.name, c.spec().state_root);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->removed.empty());
  EXPECT_FALSE(Load(s.name, c.spec().state_root));
}

TEST(ClusterTest, KillStartPauseResumeThroughLocalControl) {
  ClusterFixture c(Spec('k'));
  ASSERT_TRUE(c.ok()) << c.error();
  const ClusterState& s = c.state();
  auto ctl_r = MakeLocalControl(s);
  ASSERT_TRUE(ctl_r);
  auto& ctl = **ctl_r;

  const int old_pid = Node(s, "n1").db_pid;
  auto kill = ctl.Process({"n1"}, nemesis::ProcessAction::kKill);
  ASSERT_EQ(kill.size(), 1u);
  ASSERT_TRUE(kill[0].ok) << kill[0].error->message();
  EXPECT_EQ(kill[0].pid_before, old_pid);
  EXPECT_EQ(kill[0].pid_after, 0);
  EXPECT_NE(kill[0].mechanism.find("SIGKILL"), std::string::npos) << kill[0].mechanism;
  EXPECT_FALSE(internal::ProcessAlive(old_pid, Node(s, "n1").db_start_time));
  auto st = ProbeStatus(s);
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->nodes[0].db.alive);
  EXPECT_FALSE(st->nodes[0].healthy);
  EXPECT_NE(st->nodes[0].db.state.find("exited"), std::string::npos) << st->nodes[0].db.state;

  auto start = ctl.Process({"n1"}, nemesis::ProcessAction::kStart);
  ASSERT_TRUE(start[0].ok) << start[0].error->message();
  EXPECT_GT(start[0].pid_after, 0);
  EXPECT_TRUE(WaitFor([&] { return NodeHealthy(s, "n1"); }, milliseconds(15000)));
  auto dbs = ctl.Databases();
  ASSERT_TRUE(dbs);
  EXPECT_EQ((*dbs)[0].restarts, 1);
  // The state file follows the supervisor's live pid, so Down of a fresh process finds it.
  auto reloaded = Load(s.name, c.spec().state_root);
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->nodes[0].db_pid, start[0].pid_after);

  // Pause: a linearizable read through n2 times out; resume: it works again.
  auto pause = ctl.Process({"n2"}, nemesis::ProcessAction::kPause);
  ASSERT_TRUE(pause[0].ok) << pause[0].error->message();
  EXPECT_NE(pause[0].mechanism.find("SIGSTOP"), std::string::npos);
  dbs = ctl.Databases();
  ASSERT_TRUE(dbs);
  EXPECT_TRUE((*dbs)[1].paused);
  EXPECT_TRUE((*dbs)[1].alive);
  auto stalled = Post(Node(s, "n2"), "/v3/kv/range", R"({"key":"Zm9v"})", milliseconds(1000));
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code(), ErrorCode::kDeadlineExceeded) << stalled.error().message();
  auto resume = ctl.Process({"n2"}, nemesis::ProcessAction::kResume);
  ASSERT_TRUE(resume[0].ok) << resume[0].error->message();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = Post(Node(s, "n2"), "/v3/kv/range", R"({"key":"Zm9v"})", milliseconds(1000));
        return r && r->status == 200;
      },
      milliseconds(10000)));

  // Restart on command, and an unknown node.
  auto restart = ctl.Process({"n3", "n7"}, nemesis::ProcessAction::kRestart);
  ASSERT_EQ(restart.size(), 2u);
  EXPECT_TRUE(restart[0].ok);
  EXPECT_NE(restart[0].pid_before, restart[0].pid_after);
  EXPECT_FALSE(restart[1].ok);
  EXPECT_TRUE(WaitFor([&] { return NodeHealthy(s, "n3"); }, milliseconds(15000)));
}

bool HasEvent(const ClusterState& s, const std::string& node, const std::string& kind, int count,
              bool by_safeguard) {
  auto ev = Events(s);
  if (!ev) return false;
  int seen = 0;
  for (const auto& e : *ev) {
    if (e.node == node && e.kind == kind && e.by_safeguard == by_safeguard) ++seen;
  }
  return seen >= count;
}

TEST(ClusterTest, RestartPolicyRestartsThenEscalates) {
  ClusterFixture c(Spec('r'));
  ASSERT_TRUE(c.ok()) << c.error();
  const ClusterState& s = c.state();
  auto ctl_r = MakeLocalControl(s);
  ASSERT_TRUE(ctl_r);
  auto& ctl = **ctl_r;
  RestartPolicy policy;
  policy.enabled = true;
  policy.initial_backoff = milliseconds(50);
  policy.max_backoff = milliseconds(200);
  policy.max_restarts = 2;
  policy.window = milliseconds(60000);
  ASSERT_TRUE(SetRestartPolicy(s, policy));

  for (int i = 1; i <= 2; ++i) {
    auto kill = ctl.Process({"n2"}, nemesis::ProcessAction::kKill);
    ASSERT_TRUE(kill[0].ok);
    ASSERT_TRUE(
        WaitFor([&] { return HasEvent(s, "n2", "restarted", i, true); }, milliseconds(5000)))
        << "no safeguard restart #" << i;
    auto dbs = ctl.Databases();
    ASSERT_TRUE(dbs);
    EXPECT_TRUE((*dbs)[1].alive);
    EXPECT_EQ((*dbs)[1].restarts, i);
  }
  auto ev = Events(s);
  ASSERT_TRUE(ev);
  std::uint64_t last_seq = 0;
  for (const auto& e : *ev) {
    EXPECT_GT(e.seq, last_seq);
    last_seq = e.seq;
    if (e.kind == "restarted") {
      EXPECT_NE(e.detail.find("backoff"), std::string::npos);
    }
  }
  // A third exit within the window exceeds max_restarts: escalated, failed, not restarted.
  auto kill = ctl.Process({"n2"}, nemesis::ProcessAction::kKill);
  ASSERT_TRUE(kill[0].ok);
  ASSERT_TRUE(WaitFor([&] { return HasEvent(s, "n2", "escalated", 1, true); }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(400));  // longer than max_backoff: no restart comes
  auto dbs = ctl.Databases();
  ASSERT_TRUE(dbs);
  EXPECT_FALSE((*dbs)[1].alive);
  EXPECT_EQ((*dbs)[1].state, "failed");
  auto after = Events(s, last_seq);
  ASSERT_TRUE(after);
  for (const auto& e : *after) EXPECT_NE(e.kind, "restarted") << e.detail;
  // A start on command clears the failure.
  auto start = ctl.Process({"n2"}, nemesis::ProcessAction::kStart);
  ASSERT_TRUE(start[0].ok);
  EXPECT_TRUE(WaitFor([&] { return NodeHealthy(s, "n2"); }, milliseconds(15000)));
}

TEST(ClusterTest, TwoClustersCoexistAndANameIsUpOnce) {
  ClusterSpec a = Spec('a', 1);
  ClusterSpec b = Spec('b', 1);
  ClusterFixture ca(a);
  ASSERT_TRUE(ca.ok()) << ca.error();
  ClusterFixture cb(b);
  ASSERT_TRUE(cb.ok()) << cb.error();
  EXPECT_NE(ca.state().subnet, cb.state().subnet);
  EXPECT_NE(ca.state().subnet, "198.18.0.0/24");  // only "default" gets it
  auto names = List(a.state_root);
  EXPECT_NE(std::find(names.begin(), names.end(), a.name), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), b.name), names.end());
  auto sa = ProbeStatus(ca.state());
  auto sb = ProbeStatus(cb.state());
  ASSERT_TRUE(sa && sb);
  EXPECT_TRUE(sa->nodes[0].healthy);
  EXPECT_TRUE(sb->nodes[0].healthy);

  auto twice = Up(a);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("already up"), std::string::npos)
      << twice.error().message();
  // The refused Up removed nothing of the running cluster.
  auto still = ProbeStatus(ca.state());
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->nodes[0].healthy);
  ClusterSpec bad = a;
  bad.name = "Bad-Name";
  EXPECT_FALSE(Up(bad));
}

class ClusterCrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ClusterCrashTest, DownCleansUpAfterUpWasKilled) {
  const std::string point = GetParam();
  const std::string name = UniqueName('c');
  const std::string root = TempRoot();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("FAULTLINE_TEST_CLUSTER_UP", (name + ":" + root).c_str(), 1);
    ::setenv("FAULTLINE_CRASH_AT", ("cluster-up:" + point).c_str(), 1);
    const char* argv[] = {"cluster_test", nullptr};
    ::execv("/proc/self/exe", const_cast<char**>(argv));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto s = Load(name, root);
  ASSERT_TRUE(s) << s.error().message();
  // Something of the cluster exists at every point.
  bool any_netns = false;
  for (const auto& ns : internal::ListNetns()) any_netns |= ns.rfind("fl-" + name + "-", 0) == 0;
  EXPECT_TRUE(any_netns);
  if (point == "after-supervisor") {
    EXPECT_TRUE(internal::ProcessAlive(s->supervisor_pid, s->supervisor_start_time));
    for (const auto& n : s->nodes) EXPECT_GT(n.db_pid, 0);
  }
  auto down = Down(name, root);
  ASSERT_TRUE(down) << down.error().message();
  EXPECT_TRUE(down->warnings.empty()) << down->warnings.front();
  ExpectGone(*s);
  EXPECT_TRUE(Down(name, root));
  RemoveRootIfEmpty(root);
}

INSTANTIATE_TEST_SUITE_P(Points, ClusterCrashTest,
                         ::testing::Values("after-netns", "after-state", "after-supervisor"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string n = p.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

// The owner: this binary re-run in the given mode (kOwnerHook), once its cluster is up.
Result<pid_t> StartOwner(const std::string& mode, const std::string& name,
                         const std::string& root) {
  const pid_t pid = ::fork();
  if (pid < 0) return MakeError(ErrorCode::kInternal, "fork");
  if (pid == 0) {
    ::setenv("FAULTLINE_TEST_OWNER", (mode + ":" + name + ":" + root).c_str(), 1);
    const char* argv[] = {"cluster_test", nullptr};
    ::execv("/proc/self/exe", const_cast<char**>(argv));
    _exit(127);
  }
  const std::string up_file = fmt::format("{}/{}.up", root, name);
  WaitFor([&] { return fs::exists(up_file) || ::waitpid(pid, nullptr, WNOHANG) == pid; },
          milliseconds(60000));
  if (fs::exists(up_file)) {
    fs::remove(up_file);
    return pid;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return MakeError(ErrorCode::kInternal, "the owner did not bring its cluster up (see stderr)");
}

void KillOwner(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(ClusterOwnerTest, ClusterGoesWhenItsOwnerIsKilled) {
  const std::string name = UniqueName('o');
  const std::string root = TempRoot();
  auto owner = StartOwner("own", name, root);
  ASSERT_TRUE(owner) << owner.error().message();
  auto s = Load(name, root);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->owner_pid, *owner);
  EXPECT_NE(s->owner_start_time, 0u);
  ASSERT_TRUE(internal::ProcessAlive(s->supervisor_pid, s->supervisor_start_time));
  for (const auto& n : s->nodes) ASSERT_GT(n.db_pid, 0) << n.name;

  const auto t0 = std::chrono::steady_clock::now();
  KillOwner(*owner);
  const bool gone = WaitFor(
      [&] {
        return !fs::exists(s->run_dir) &&
               !internal::ProcessAlive(s->supervisor_pid, s->supervisor_start_time);
      },
      milliseconds(10000));
  const auto took =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(gone) << "cluster still there 10 s after its owner was killed";
  std::fprintf(stderr, "  cluster gone %lld ms after its owner was SIGKILLed\n",
               static_cast<long long>(took));
  ExpectGone(*s);
  EXPECT_TRUE(List(root).empty());
  (void)Down(name, root);
  RemoveRootIfEmpty(root);
}

TEST(ClusterOwnerTest, DisownedClusterOutlivesItsOwner) {
  const std::string name = UniqueName('d');
  const std::string root = TempRoot();
  auto owner = StartOwner("disown", name, root);
  ASSERT_TRUE(owner) << owner.error().message();
  auto s = Load(name, root);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->owner_pid, 0);
  KillOwner(*owner);
  // Longer than the teardown of an owned cluster takes (the test above).
  std::this_thread::sleep_for(milliseconds(3000));
  EXPECT_TRUE(fs::exists(s->run_dir));
  EXPECT_TRUE(internal::ProcessAlive(s->supervisor_pid, s->supervisor_start_time));
  for (const auto& n : s->nodes)
    EXPECT_TRUE(WaitFor([&] { return NodeHealthy(*s, n.name); }, milliseconds(10000))) << n.name;
  auto down = Down(name, root);
  ASSERT_TRUE(down) << down.error().message();
  ExpectGone(*s);
  RemoveRootIfEmpty(root);
}

}  // namespace
}  // namespace faultline::cluster
