// Toxics through the ledger (nemesis/proxy_faults.h), without root: proxies on 127.0.0.1 in front
// of a loopback HTTP server. Adding, removing and resetting keep the ledger and the proxies in
// step; a heal removes toxics in this process, at a control address, and says honestly when the
// process that held a proxy is gone; the proxy fault kinds apply through ApplyFault.
#include "nemesis/proxy_faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"
#include "nemesis/ledger.h"
#include "nemesis/proxy_api.h"
#include "nemesis/testing/loopback_http.h"

namespace faultline::nemesis {
namespace {

using testing::BlockingClient;
using ::testing::HasSubstr;
using testing::LoopbackServer;

std::uint16_t PortOf(const std::string& listen) {
  return static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

Toxic Status503(std::string name, double toxicity = 1.0) {
  return Toxic{.name = std::move(name),
               .type = ToxicType::kHttpStatus,
               .stream = ToxicStream::kDownstream,
               .toxicity = toxicity,
               .attributes = {{"status", std::int64_t{503}}}};
}

class ProxyFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("faultline-proxy-faults-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (const char* node : {"n1", "n2"}) {
      auto info = proxies_.CreateProxy(ProxyConfig{
          .name = node, .listen = "127.0.0.1:0", .upstream = http_.address(), .enabled = true});
      ASSERT_TRUE(info.has_value()) << info.error().message();
      ports_.push_back(PortOf(info->config.listen));
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string LedgerPath() const { return (dir_ / "nemesis.ledger").string(); }

  std::unique_ptr<ProxyFaults> Open(std::string control_address = "") {
    auto faults = ProxyFaults::Open(
        proxies_,
        ProxyFaults::Options{.ledger_path = LedgerPath(),
                             .run_id = "r1",
                             .control_address = std::move(control_address),
                             .on_change = [this](const ToxicChange& c) { changes_.push_back(c); }});
    EXPECT_TRUE(faults.has_value()) << faults.error().message();
    return faults ? std::move(*faults) : nullptr;
  }

  std::vector<LedgerEntry> OpenEntries() const {
    auto ledger = Ledger::Open(LedgerPath());
    EXPECT_TRUE(ledger.has_value());
    auto state = ledger->Read();
    EXPECT_TRUE(state.has_value());
    return state ? state->open : std::vector<LedgerEntry>{};
  }

  std::size_t ToxicCount() const {
    std::size_t n = 0;
    for (const ProxyInfo& p : proxies_.ListProxies()) n += p.toxics.size();
    return n;
  }

  FaultReport HealAll() const {
    auto ledger = Ledger::Open(LedgerPath());
    EXPECT_TRUE(ledger.has_value());
    std::vector<std::unique_ptr<Net>> keep;
    return internal::HealEntries(*ledger, nullptr, internal::FreshNets(keep), {});
  }

  std::filesystem::path dir_;
  LoopbackServer http_{LoopbackServer::Mode::kHttp};
  ProxyServer proxies_{ProxyServer::Options{.seed = 1}};
  std::vector<std::uint16_t> ports_;
  std::vector<ToxicChange> changes_;
};

TEST_F(ProxyFaultsTest, AddRecordsBeforeTheToxicActsAndRemoveCloses) {
  auto faults = Open();
  ASSERT_NE(faults, nullptr);
  BlockingClient client(ports_[0]);
  auto added = faults->Add("n1", Status503("s503"));
  ASSERT_TRUE(added.has_value()) << added.error().message();
  EXPECT_EQ(client.Request("GET", "/x").status, 503);

  auto open = OpenEntries();
  ASSERT_EQ(open.size(), 1u);
  ASSERT_EQ(open[0].objects.size(), 1u);
  const LedgerObject& o = open[0].objects[0];
  EXPECT_EQ(o.type, "toxic");
  EXPECT_EQ(o.proxy, "n1");
  EXPECT_EQ(o.name, "s503");
  EXPECT_EQ(o.pid, internal::SelfPid());
  EXPECT_THAT(open[0].description, HasSubstr("http_status"));
  ASSERT_EQ(faults->held().size(), 1u);

  ASSERT_TRUE(faults->Remove("n1", "s503").has_value());
  EXPECT_EQ(client.Request("GET", "/x").status, 200);
  EXPECT_TRUE(OpenEntries().empty());
  EXPECT_TRUE(faults->held().empty());

  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[0].action, ToxicChange::Action::kAdded);
  EXPECT_EQ(changes_[1].action, ToxicChange::Action::kRemoved);
  EXPECT_EQ(changes_[0].ledger_id, changes_[1].ledger_id);
  EXPECT_TRUE(changes_[1].ok);
  EXPECT_EQ(changes_[1].toxic.type, ToxicType::kHttpStatus);
  EXPECT_LE(changes_[0].mono_ns, changes_[1].mono_ns);
}

TEST_F(ProxyFaultsTest, AFailedAddClosesItsEntryAndReportsIt) {
  auto faults = Open();
  ASSERT_NE(faults, nullptr);
  auto added = faults->Add("nope", Status503("s503"));
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(OpenEntries().empty());
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_FALSE(changes_[0].ok);
  // A bad toxic is refused before anything is recorded.
  Toxic bad = Status503("bad");
  bad.attributes["statsu"] = std::int64_t{1};
  EXPECT_FALSE(faults->Add("n1", bad).has_value());
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(ProxyFaultsTest, RemoveAllAndTheApiResetLeaveEveryProxyClean) {
  auto faults = Open();
  ASSERT_NE(faults, nullptr);
  ASSERT_TRUE(faults->Add("n1", Status503("a")).has_value());
  ASSERT_TRUE(faults->Add("n2", Status503("b")).has_value());
  const FaultReport report = faults->RemoveAll("abort");
  EXPECT_TRUE(report.ok) << report.Describe();
  EXPECT_EQ(report.details.size(), 2u);
  EXPECT_EQ(ToxicCount(), 0u);
  EXPECT_TRUE(OpenEntries().empty());
  EXPECT_EQ(changes_.back().reason, "abort");

  // Through the Toxiproxy API with the ledger: POST adds an entry, /reset closes them all.
  auto r = HandleControlRequest(proxies_, "POST", "/proxies/n1/toxics",
                                R"({"name":"api1","type":"latency","attributes":{"latency":5}})",
                                faults.get());
  ASSERT_EQ(r.status, 200) << r.body;
  r = HandleControlRequest(proxies_, "POST", "/proxies/n2/toxics",
                           R"({"name":"api2","type":"http_drop"})", faults.get());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OpenEntries().size(), 2u);
  r = HandleControlRequest(proxies_, "DELETE", "/proxies/n2/toxics/api2", "", faults.get());
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(OpenEntries().size(), 1u);
  r = HandleControlRequest(proxies_, "POST", "/reset", "", faults.get());
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(ToxicCount(), 0u);
  EXPECT_TRUE(OpenEntries().empty());
  EXPECT_EQ(changes_.back().detail, "removed by reset");
}

TEST_F(ProxyFaultsTest, HealRemovesToxicsOfThisProcess) {
  auto faults = Open();
  ASSERT_NE(faults, nullptr);
  ASSERT_TRUE(faults->Add("n1", Status503("a")).has_value());
  ASSERT_TRUE(faults->Add("n2", Status503("b")).has_value());
  const FaultReport healed = HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_THAT(healed.Describe(), HasSubstr("toxic a on proxy n1: removed"));
  EXPECT_EQ(ToxicCount(), 0u);
  EXPECT_TRUE(OpenEntries().empty());
  // The toxics are gone already: removing them again is not an error.
  EXPECT_TRUE(faults->Remove("n1", "a").has_value());
}

TEST_F(ProxyFaultsTest, HealSaysAToxicOfAGoneProcessDiedWithIt) {
  auto ledger = Ledger::Open(LedgerPath());
  ASSERT_TRUE(ledger.has_value());
  LedgerEntry e;
  e.kind = "http-status";
  e.owner_pid = internal::SelfPid();
  e.owner_start_time = 1;  // not us: a process that is gone
  LedgerObject o;
  o.type = "toxic";
  o.proxy = "n1";
  o.name = "left-behind";
  o.pid = e.owner_pid;
  o.start_time = 1;
  e.objects.push_back(o);
  ASSERT_TRUE(ledger->Append(e).has_value());
  const FaultReport healed = HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_THAT(healed.Describe(), HasSubstr("died with it"));
  EXPECT_TRUE(OpenEntries().empty());
}

TEST_F(ProxyFaultsTest, HealRemovesAToxicAtAReachableControlAddress) {
  // A second server plays a `faultline proxy` daemon: its toxic is recorded with its control
  // address and no host process, as a remote ProxyFaults records it.
  ProxyServer daemon(ProxyServer::Options{.seed = 2});
  ASSERT_TRUE(
      daemon
          .CreateProxy(ProxyConfig{
              .name = "d1", .listen = "127.0.0.1:0", .upstream = http_.address(), .enabled = true})
          .has_value());
  auto control = ControlServer::Start(daemon, "127.0.0.1:0");
  ASSERT_TRUE(control.has_value());
  auto remote =
      ProxyFaults::OpenRemote(ProxyFaults::Options{.ledger_path = LedgerPath(),
                                                   .run_id = "r1",
                                                   .control_address = (*control)->address(),
                                                   .on_change = {}});
  ASSERT_TRUE(remote.has_value()) << remote.error().message();
  ASSERT_TRUE((*remote)->Add("d1", Status503("remote503")).has_value());
  ASSERT_EQ(daemon.GetProxy("d1")->toxics.size(), 1u);
  auto open = OpenEntries();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].objects[0].address, (*control)->address());
  EXPECT_EQ(open[0].objects[0].pid, 0);

  const FaultReport healed = HealAll();
  EXPECT_TRUE(healed.ok) << healed.Describe();
  EXPECT_THAT(healed.Describe(), HasSubstr("removed at " + (*control)->address()));
  EXPECT_TRUE(daemon.GetProxy("d1")->toxics.empty());
  EXPECT_TRUE(OpenEntries().empty());

  // Once the daemon is gone, a toxic recorded at its address went with it.
  ASSERT_TRUE((*remote)->Add("d1", Status503("again")).has_value());
  const std::string address = (*control)->address();
  (*control)->Stop();
  daemon.Stop();
  const FaultReport after = HealAll();
  EXPECT_TRUE(after.ok) << after.Describe();
  EXPECT_THAT(after.Describe(), HasSubstr("nothing listens on " + address));
  EXPECT_TRUE(OpenEntries().empty());
}

TEST_F(ProxyFaultsTest, ALiveProcessToxicWithoutAddressIsNotClaimedHealed) {
  auto ledger = Ledger::Open(LedgerPath());
  ASSERT_TRUE(ledger.has_value());
  // PID 1 is alive and not us; nothing says where its proxy answers.
  const auto init = internal::ReadProcStat(1);
  ASSERT_TRUE(init.has_value());
  LedgerEntry e;
  e.kind = "toxic";
  e.owner_pid = 1;
  e.owner_start_time = init->start_time;
  LedgerObject o;
  o.type = "toxic";
  o.proxy = "p";
  o.name = "t";
  o.pid = 1;
  o.start_time = init->start_time;
  e.objects.push_back(o);
  ASSERT_TRUE(ledger->Append(e).has_value());
  const FaultReport healed = HealAll();
  EXPECT_FALSE(healed.ok);
  EXPECT_THAT(healed.Describe(), HasSubstr("no control address"));
  EXPECT_EQ(OpenEntries().size(), 1u);
}

TEST_F(ProxyFaultsTest, ProxyFaultKindsApplyThroughApplyFault) {
  auto faults = Open();
  ASSERT_NE(faults, nullptr);
  auto spec = ParseFaultSpec("http-status n1 --share 1 --status 502 --method GET --path /v3/*");
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  auto report = ApplyProxyFault(*faults, *spec, {"n1"});
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_TRUE(report->ok) << report->Describe();
  EXPECT_EQ(report->kind, FaultKind::kHttpStatus);
  EXPECT_NE(report->ledger_id, 0u);
  BlockingClient client(ports_[0]);
  EXPECT_EQ(client.Request("GET", "/v3/kv").status, 502);
  EXPECT_EQ(client.Request("POST", "/v3/kv").status, 200);
  EXPECT_EQ(client.Request("GET", "/other").status, 200);
  auto open = OpenEntries();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind, "http-status");
  EXPECT_EQ(open[0].nodes, std::vector<std::string>{"n1"});

  auto latency =
      ToxicForFault(*ParseFaultSpec("proxy-latency --ms 20 --jitter-ms 5 --share 0.5"), "lat");
  ASSERT_TRUE(latency.has_value());
  EXPECT_EQ(latency->type, ToxicType::kLatency);
  EXPECT_EQ(latency->toxicity, 0.5);
  EXPECT_EQ(NumberAttribute(*latency, "latency"), 20);
  EXPECT_EQ(NumberAttribute(*latency, "jitter"), 5);
  EXPECT_FALSE(ToxicForFault(FaultSpec{}, "x").has_value());
  EXPECT_TRUE(faults->RemoveAll().ok);
}

}  // namespace
}  // namespace faultline::nemesis
