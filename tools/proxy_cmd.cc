// faultline proxy: fault-injecting TCP proxies driven through Toxiproxy's HTTP API (issue 13 §1).
//
// Exit codes: 0 stopped by SIGINT/SIGTERM, 3 an error (bad flag or config file, a control address
// or proxy listen address that cannot be bound).
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "nemesis/proxy.h"
#include "nemesis/proxy_api.h"
#include "nemesis/proxy_faults.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct ProxyArgs {
  std::string control = "127.0.0.1:8474";
  std::string config;
  std::string ledger;
  std::uint64_t seed = 0;
  bool seed_given = false;
};

int RunProxy(const ProxyArgs& a) {
  // Blocked before the io thread starts, so only sigwait below takes them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const std::uint64_t seed = a.seed_given ? a.seed : std::random_device()();
  std::vector<nemesis::ProxyConfig> configs;
  if (!a.config.empty()) {
    std::ifstream in(a.config);
    if (!in) {
      PrintError(fmt::format("proxy: --config {}: cannot read it", a.config));
      return kExitError;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = nemesis::ParseProxyConfigs(text.str());
    if (!parsed) {
      PrintError(fmt::format("proxy: --config {}: {}", a.config, parsed.error().message()));
      return kExitError;
    }
    configs = std::move(*parsed);
  }
  nemesis::ProxyServer proxies(nemesis::ProxyServer::Options{.seed = seed});
  auto populated = proxies.Populate(configs);
  if (!populated) {
    PrintError(fmt::format("proxy: --config {}: {}", a.config, populated.error().message()));
    return kExitError;
  }
  // With a ledger, every toxic the API adds or removes is recorded there (with this daemon's
  // control address, so a heal from another process can remove it here).
  std::unique_ptr<nemesis::ProxyFaults> faults;
  if (!a.ledger.empty()) {
    if (a.control.ends_with(":0")) {
      PrintError(
          fmt::format("proxy: --ledger needs a fixed --control port (not {}): the ledger "
                      "records where heals reach this daemon",
                      a.control));
      return kExitError;
    }
    auto opened = nemesis::ProxyFaults::Open(
        proxies, nemesis::ProxyFaults::Options{
                     .ledger_path = a.ledger,
                     .run_id = "proxy",
                     .control_address = a.control,
                     .on_change = [](const nemesis::ToxicChange& c) {
                       PrintNote(fmt::format("proxy: toxic {} {} on {} (#{}, {}): {}", c.toxic.name,
                                             nemesis::ToxicActionName(c.action), c.proxy,
                                             c.ledger_id, c.reason, c.detail));
                     }});
    if (!opened) {
      PrintError(fmt::format("proxy: --ledger {}: {}", a.ledger, opened.error().message()));
      return kExitError;
    }
    faults = std::move(*opened);
  }
  auto control = nemesis::ControlServer::Start(proxies, a.control, faults.get());
  if (!control) {
    PrintError(fmt::format("proxy: --control {}: {}", a.control, control.error().message()));
    return kExitError;
  }
  PrintNote(fmt::format("proxy: control API on http://{} (seed {})", (*control)->address(), seed));
  for (const nemesis::ProxyInfo& info : *populated) {
    PrintNote(fmt::format("proxy: {} listens on {}, upstream {}{}", info.config.name,
                          info.config.listen, info.config.upstream,
                          info.config.enabled ? "" : " (disabled)"));
  }
  int sig = 0;
  sigwait(&stop, &sig);
  PrintNote(fmt::format("proxy: {}: closing every proxy and connection",
                        sig == SIGINT ? "SIGINT" : "SIGTERM"));
  (*control)->Stop();
  // Toxics die with the proxies: their ledger entries are closed.
  if (faults) (void)faults->Reset("stop");
  proxies.Stop();
  return kExitOk;
}

}  // namespace

void RegisterProxyCommand(CLI::App& app, Action& run) {
  auto args = std::make_shared<ProxyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "proxy",
      "Run fault-injecting TCP proxies controlled through Toxiproxy's HTTP API.\n"
      "Each proxy listens on an address, forwards every connection to its upstream and passes\n"
      "both streams (upstream = client to server, downstream = server to client) through its\n"
      "toxics. Toxiproxy's clients (Go, Ruby, Python, Java) work unchanged against --control.\n"
      "TCP toxics (attributes; toxicity = share of connections): latency (latency, jitter ms),\n"
      "bandwidth (rate KB/s), slow_close (delay ms), timeout (timeout ms, 0 = stall forever),\n"
      "reset_peer (timeout ms), slicer (average_size, size_variation bytes, delay us),\n"
      "limit_data (bytes). HTTP/1.1 toxics (toxicity = share of matching requests; scoped by\n"
      "method, path glob, header and header_value): http_status (status, body), http_delay\n"
      "(delay ms), http_drop, http_truncate (bytes of the reply body kept).\n"
      "API: GET/POST /proxies, GET/POST/DELETE /proxies/NAME, GET/POST /proxies/NAME/toxics,\n"
      "GET/POST/DELETE /proxies/NAME/toxics/TOXIC, POST /populate, POST /reset, GET /version.\n"
      "Runs until SIGINT or SIGTERM, then closes every listener and connection.\n"
      "Exit status: 0 stopped by a signal, 3 error.\n"
      "\n"
      "Examples:\n"
      "  faultline proxy --seed 1 &\n"
      "  curl -s -XPOST localhost:8474/proxies \\\n"
      "    -d "
      "'{\"name\":\"etcd1\",\"listen\":\"127.0.0.1:22379\",\"upstream\":\"127.0.0.1:2379\"}'\n"
      "  curl -s -XPOST localhost:8474/proxies/etcd1/toxics \\\n"
      "    -d '{\"type\":\"latency\",\"attributes\":{\"latency\":100,\"jitter\":10}}'\n"
      "  curl -s -XPOST localhost:8474/proxies/etcd1/toxics -d '{\"type\":\"http_status\",\n"
      "    "
      "\"toxicity\":0.2,\"attributes\":{\"status\":503,\"method\":\"POST\",\"path\":\"/v3/kv/"
      "*\"}}'\n"
      "  curl -s -XDELETE localhost:8474/proxies/etcd1/toxics/latency_downstream\n"
      "  curl -s -XPOST localhost:8474/reset\n"
      "  faultline proxy --control 127.0.0.1:9474 --config proxies.json   # Toxiproxy's format\n"
      "  faultline proxy --ledger /tmp/proxy.ledger   # toxics in a ledger, healable");
  cmd->add_option("--control", args->control,
                  "address of the HTTP control API (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--config", args->config,
                  "JSON array of proxies to create at start: [{name, listen, upstream, enabled}]");
  cmd->add_option("--ledger", args->ledger,
                  "record every toxic added or removed in this nemesis ledger (fsync'd before "
                  "the toxic acts), so `faultline nemesis status|heal --ledger FILE` sees and "
                  "removes them; needs a fixed --control port");
  cmd->add_option("--seed", args->seed, "seed of every random draw (default: random, logged)")
      ->each([args](const std::string&) { args->seed_given = true; });
  cmd->callback([args, &run] { run = [args] { return RunProxy(*args); }; });
}

}  // namespace faultline::tools
