// The control API of a ProxyServer: Toxiproxy's HTTP API (same paths, JSON shapes and status
// codes, so Toxiproxy's clients work unchanged), served with Boost.Beast on the proxies'
// io_context.
//
//   GET /version                       {"version": "..."}
//   GET /proxies                       {"NAME": proxy, ...}
//   POST /proxies                      {name, listen, upstream, enabled} -> 201 proxy
//   POST /populate                     [proxy configs] -> 201 {"proxies": [...]}
//   GET|POST|DELETE /proxies/NAME      proxy | update -> 200 proxy | 204
//   GET|POST /proxies/NAME/toxics      [toxic, ...] | {name, type, stream, toxicity, attributes}
//   GET|POST|DELETE /proxies/NAME/toxics/TOXIC
//   POST /reset                        every proxy enabled, every toxic removed -> 204
// A proxy is {"name", "listen", "upstream", "enabled", "toxics": [...]}; a toxic is
// {"attributes": {...}, "name", "type", "stream", "toxicity"}. Errors are
// {"error": "message", "status": N}: 404 unknown proxy or toxic, 409 an existing name, 400 bad
// input naming the field, 500 a listen address that cannot be bound.
//
// Thread-safety: HandleControlRequest is thread-safe (it calls the thread-safe ProxyServer);
// a ControlServer is used by one thread at a time.
#ifndef FAULTLINE_NEMESIS_PROXY_API_H_
#define FAULTLINE_NEMESIS_PROXY_API_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "nemesis/proxy.h"

namespace faultline::nemesis {

struct ControlResponse {
  int status = 200;
  std::string body;  // JSON, or empty for 204
};

class ProxyFaults;  // nemesis/proxy_faults.h

// One API request, without sockets (the server and the tests call it). With `faults`, toxics are
// added, removed and reset through it (the ledger and its on_change); DELETE of a proxy removes
// its toxics that way first.
ControlResponse HandleControlRequest(ProxyServer& proxies, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     ProxyFaults* faults = nullptr);

// A toxic as the API writes and reads it ({"attributes", "name", "type", "stream",
// "toxicity"}); ToxicFromJson does not normalize (ProxyServer::AddToxic does).
std::string ToxicToJson(const Toxic& toxic);
Result<Toxic> ToxicFromJson(std::string_view json);

// A config file as Toxiproxy's -config reads it: a JSON array of {name, listen, upstream,
// enabled}. InvalidArgument naming the entry and field.
Result<std::vector<ProxyConfig>> ParseProxyConfigs(std::string_view json);

class ControlServer {
 public:
  // Binds `address` ("127.0.0.1:8474"; port 0 picks one) and serves until Stop(). `faults`
  // (borrowed, may be null; must outlive the server) as in HandleControlRequest.
  static Result<std::unique_ptr<ControlServer>> Start(ProxyServer& proxies,
                                                      std::string_view address,
                                                      ProxyFaults* faults = nullptr);
  ~ControlServer();  // Stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& address() const { return address_; }  // as bound
  // Closes the listener and every API connection. Idempotent; call before ProxyServer::Stop.
  void Stop();

  struct State;

 private:
  ControlServer(ProxyServer& proxies, std::shared_ptr<State> state, std::string address);

  ProxyServer& proxies_;
  std::shared_ptr<State> state_;
  std::string address_;
  bool stopped_ = false;
};

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_PROXY_API_H_
