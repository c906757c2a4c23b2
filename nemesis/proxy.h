// ProxyServer: fault-injecting TCP proxies (Toxiproxy's model), usable on their own through the
// control API (proxy_api.h, `faultline proxy`) or in-process by a campaign or FIT run through
// this plain C++ API. Each Proxy listens on `listen`, connects every accepted connection to
// `upstream` and forwards both directions, passing each chunk through the toxics of its stream
// (toxic.h) in the order they were added. Toxics can be added, changed and removed while
// connections are open: the next chunk or request sees the change, and timed toxics (timeout,
// reset_peer) start on open connections when they are added.
//
// HTTP toxics assume a client that waits for each reply before sending the next request on a
// connection (no pipelining), as HTTP/1.1 clients do. A connection whose requests are not
// HTTP/1.x with a Content-Length (or no body), e.g. a chunked upload, is forwarded as plain TCP
// from there on and is spared HTTP toxics.
//
// Randomness (jitter, toxicity draws, slice sizes) comes from one generator seeded by
// Options::seed; each connection takes its own generator from it in accept order.
//
// Thread-safety: every public method is thread-safe. All proxy state lives on one io_context
// thread owned by the server; calls from other threads run there and wait for the result.
#ifndef FAULTLINE_NEMESIS_PROXY_H_
#define FAULTLINE_NEMESIS_PROXY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "nemesis/toxic.h"

namespace faultline::nemesis {

struct ProxyConfig {
  std::string name;
  std::string listen;    // "127.0.0.1:8000"; port 0 picks a free one (reported by ProxyInfo)
  std::string upstream;  // "127.0.0.1:2379" or "host:port"
  bool enabled = true;   // a disabled proxy listens on nothing and has no connections

  bool operator==(const ProxyConfig&) const = default;
};

// A proxy as the API shows it: `listen` is the address really bound while enabled.
struct ProxyInfo {
  ProxyConfig config;
  std::vector<Toxic> toxics;  // in the order they apply
};

// A change to a proxy; absent fields stay.
struct ProxyUpdate {
  std::optional<std::string> listen;
  std::optional<std::string> upstream;
  std::optional<bool> enabled;
};

// A change to a toxic; attributes given replace those of the same name.
struct ToxicUpdate {
  std::optional<double> toxicity;
  std::optional<ToxicStream> stream;
  ToxicAttributes attributes;
};

class ProxyServer {
 public:
  struct Options {
    std::uint64_t seed = 0;
  };
  explicit ProxyServer(Options options);
  ~ProxyServer();  // Stop()
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Closes every listener and connection and joins the io thread. Idempotent. REQUIRES: not
  // called from the io thread (a control API handler).
  void Stop();

  // Errors: InvalidArgument naming the field (bad name, address, an existing name: "already
  // exists"), Unavailable when the listen address cannot be bound.
  Result<ProxyInfo> CreateProxy(const ProxyConfig& config);
  Result<ProxyInfo> UpdateProxy(std::string_view name, const ProxyUpdate& update);
  Status DeleteProxy(std::string_view name);  // closes its connections
  Result<ProxyInfo> GetProxy(std::string_view name) const;
  std::vector<ProxyInfo> ListProxies() const;  // sorted by name
  // Creates the proxies that do not exist, updates those that do (Toxiproxy's /populate).
  Result<std::vector<ProxyInfo>> Populate(const std::vector<ProxyConfig>& configs);

  // The toxic is normalized (NormalizeToxic) first. A name already used on the proxy is
  // InvalidArgument "already exists"; an unknown proxy or toxic is NotFound.
  Result<Toxic> AddToxic(std::string_view proxy, Toxic toxic);
  Result<Toxic> UpdateToxic(std::string_view proxy, std::string_view toxic,
                            const ToxicUpdate& update);
  Status RemoveToxic(std::string_view proxy, std::string_view toxic);
  // Enables every proxy and removes every toxic (Toxiproxy's /reset).
  Status Reset();

  // The io_context the proxies run on (the control API serves on it too).
  boost::asio::io_context& io_context();
  // Runs `f` on the io thread and waits for it (inline when called there); for components that
  // serve on io_context(). After Stop() it runs `f` on the caller's thread.
  void RunOnIoThread(const std::function<void()>& f);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_PROXY_H_
