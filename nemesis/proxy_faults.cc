#include "nemesis/proxy_faults.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <utility>

#include "nemesis/internal/heal.h"
#include "nemesis/internal/proc.h"
#include "nemesis/internal/proxy_link.h"
#include "nemesis/internal/toxic_heal.h"
#include "nemesis/ledger.h"
#include "nemesis/proxy_api.h"

namespace faultline::nemesis {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using internal::tcp;

constexpr std::string_view kToxicObject = "toxic";

// The in-process servers a heal in this process can reach, by number (ledger object `handle`).
std::mutex g_registry_mu;
std::map<std::uint32_t, ProxyServer*>& Registry() {
  static std::map<std::uint32_t, ProxyServer*> registry;
  return registry;
}
std::uint32_t Register(ProxyServer* server) {
  static std::uint32_t next = 1;
  std::lock_guard lock(g_registry_mu);
  const std::uint32_t n = next++;
  Registry()[n] = server;
  return n;
}
void Unregister(std::uint32_t n) {
  std::lock_guard lock(g_registry_mu);
  Registry().erase(n);
}

// One call of the Toxiproxy API: status 0 when no reply came (`error` says why; `refused` when
// nothing listens there).
struct ApiReply {
  int status = 0;
  std::string body;
  bool refused = false;
  std::string error;
};

ApiReply CallApi(const std::string& address, http::verb verb, const std::string& target,
                 const std::string& body) {
  ApiReply out;
  auto endpoint = internal::ParseEndpoint(address, "control address");
  if (!endpoint) {
    out.error = endpoint.error().message();
    return out;
  }
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(3));
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, address);
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    boost::system::error_code failure;
    stream.async_connect(*endpoint, [&](boost::system::error_code ec) {
      if (ec) {
        failure = ec;
        return;
      }
      http::async_write(stream, request, [&](boost::system::error_code wec, std::size_t) {
        if (wec) {
          failure = wec;
          return;
        }
        http::async_read(stream, buffer, response,
                         [&](boost::system::error_code rec, std::size_t) { failure = rec; });
      });
    });
    io.run();
    if (failure) {
      out.refused = failure == asio::error::connection_refused;
      out.error = failure.message();
      return out;
    }
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

std::string ApiError(const ApiReply& r) {
  return r.status == 0 ? r.error : fmt::format("HTTP {}: {}", r.status, r.body);
}

std::string DescribeToxic(const Toxic& t) {
  std::vector<std::string> attributes;
  for (const auto& [name, value] : t.attributes) {
    if (const auto* n = std::get_if<std::int64_t>(&value)) {
      attributes.push_back(fmt::format("{}={}", name, *n));
    } else if (!std::get<std::string>(value).empty()) {
      attributes.push_back(fmt::format("{}={}", name, std::get<std::string>(value)));
    }
  }
  return fmt::format("{} {} {} toxicity {:.4g} ({})", t.name, ToxicTypeName(t.type),
                     ToxicStreamName(t.stream), t.toxicity, fmt::join(attributes, " "));
}

Toxic NamedToxic(std::string name) {
  Toxic t;
  t.name = std::move(name);
  return t;
}

}  // namespace

std::string_view ToxicActionName(ToxicChange::Action action) {
  return action == ToxicChange::Action::kAdded ? "added" : "removed";
}

struct ProxyFaults::State {
  State(ProxyServer* s, Ledger l, Options o)
      : server(s), ledger(std::move(l)), options(std::move(o)) {}
  ProxyServer* server;  // null: remote, through options.control_address
  Ledger ledger;
  Options options;
  std::uint32_t number = 0;  // in the registry
  mutable std::mutex mu;
  std::map<std::pair<std::string, std::string>, std::uint64_t> held;

  void Notify(ToxicChange change) const {
    change.mono_ns = internal::MonoNanos();
    if (options.on_change) options.on_change(change);
  }

  LedgerObject Object(std::string_view proxy, std::string_view toxic) const {
    LedgerObject o;
    o.type = std::string(kToxicObject);
    o.proxy = std::string(proxy);
    o.name = std::string(toxic);
    o.address = options.control_address;
    if (server != nullptr) {
      o.pid = internal::SelfPid();
      o.start_time = internal::SelfStartTime();
      o.handle = number;
    }
    return o;
  }

  // Whether a ledger object names a toxic on these proxies.
  bool Ours(const LedgerObject& o) const {
    if (o.type != kToxicObject) return false;
    if (server != nullptr) {
      return o.pid == internal::SelfPid() && o.start_time == internal::SelfStartTime() &&
             o.handle == number;
    }
    return o.address == options.control_address;
  }

  Status AddNow(std::string_view proxy, const Toxic& toxic) const {
    if (server != nullptr) {
      auto added = server->AddToxic(proxy, toxic);
      if (!added) return std::move(added).error();
      return OkStatus();
    }
    const ApiReply r = CallApi(options.control_address, http::verb::post,
                               fmt::format("/proxies/{}/toxics", proxy), ToxicToJson(toxic));
    if (r.status == 200) return OkStatus();
    const ErrorCode code = r.status == 404                      ? ErrorCode::kNotFound
                           : r.status == 400 || r.status == 409 ? ErrorCode::kInvalidArgument
                                                                : ErrorCode::kUnavailable;
    return Error(code, fmt::format("proxy {}: add toxic {} at {}: {}", proxy, toxic.name,
                                   options.control_address, ApiError(r)));
  }

  // NotFound when the proxy or toxic is not there.
  Status RemoveNow(std::string_view proxy, std::string_view toxic) const {
    if (server != nullptr) return server->RemoveToxic(proxy, toxic);
    const ApiReply r = CallApi(options.control_address, http::verb::delete_,
                               fmt::format("/proxies/{}/toxics/{}", proxy, toxic), "");
    if (r.status == 204 || r.status == 200) return OkStatus();
    return Error(r.status == 404 ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                 fmt::format("proxy {}: remove toxic {} at {}: {}", proxy, toxic,
                             options.control_address, ApiError(r)));
  }

  // Closes every open entry whose toxic objects are on these proxies and `match`. Returns the
  // (proxy, toxic, id) closed.
  std::vector<Held> CloseMatching(const std::function<bool(const LedgerObject&)>& match,
                                  const std::string& how) const {
    std::vector<Held> closed;
    auto state = ledger.Read();
    if (!state) return closed;
    for (const LedgerEntry& e : state->open) {
      const LedgerObject* hit = nullptr;
      bool all = !e.objects.empty();
      for (const LedgerObject& o : e.objects) {
        if (Ours(o) && match(o)) {
          hit = &o;
        } else {
          all = false;
        }
      }
      if (hit == nullptr || !all) continue;
      if (ledger.Close(e.id, how)) closed.push_back({hit->proxy, hit->name, e.id});
    }
    return closed;
  }

  Result<std::pair<Toxic, std::uint64_t>> Add(std::string_view proxy, Toxic toxic,
                                              std::string_view reason, std::string kind,
                                              std::vector<std::string> nodes) {
    FAULTLINE_ASSIGN_OR_RETURN(toxic, NormalizeToxic(std::move(toxic)));
    LedgerEntry entry;
    entry.kind = std::move(kind);
    entry.description = fmt::format("toxic {} on proxy {}", DescribeToxic(toxic), proxy);
    entry.nodes = std::move(nodes);
    entry.run_id = options.run_id;
    entry.owner_pid = internal::SelfPid();
    entry.owner_start_time = internal::SelfStartTime();
    entry.opened_unix_ms = UnixMillis();
    entry.objects.push_back(Object(proxy, toxic.name));
    FAULTLINE_ASSIGN_OR_RETURN(LedgerEntry recorded, ledger.Append(std::move(entry)));
    ToxicChange change{.action = ToxicChange::Action::kAdded,
                       .ledger_id = recorded.id,
                       .proxy = std::string(proxy),
                       .toxic = toxic,
                       .ok = true,
                       .detail = recorded.description,
                       .reason = std::string(reason),
                       .mono_ns = 0};
    if (Status added = AddNow(proxy, toxic); !added) {
      (void)ledger.Close(recorded.id, fmt::format("not applied: {}", added.error().message()));
      change.ok = false;
      change.detail = added.error().message();
      Notify(std::move(change));
      return std::move(added).error();
    }
    {
      std::lock_guard lock(mu);
      held[{std::string(proxy), toxic.name}] = recorded.id;
    }
    Notify(std::move(change));
    return std::pair{std::move(toxic), recorded.id};
  }
};

ProxyFaults::ProxyFaults(std::unique_ptr<State> state) : state_(std::move(state)) {}

ProxyFaults::~ProxyFaults() {
  if (state_ && state_->number != 0) Unregister(state_->number);
}

Result<std::unique_ptr<ProxyFaults>> ProxyFaults::Open(ProxyServer& proxies, Options options) {
  FAULTLINE_ASSIGN_OR_RETURN(Ledger ledger, Ledger::Open(options.ledger_path));
  auto state = std::make_unique<State>(&proxies, std::move(ledger), std::move(options));
  state->number = Register(&proxies);
  return std::unique_ptr<ProxyFaults>(new ProxyFaults(std::move(state)));
}

Result<std::unique_ptr<ProxyFaults>> ProxyFaults::OpenRemote(Options options) {
  if (options.control_address.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "proxy faults: no control address (where `faultline proxy` listens)");
  }
  if (auto endpoint = internal::ParseEndpoint(options.control_address, "control address");
      !endpoint) {
    return std::move(endpoint).error().WithContext("proxy faults");
  }
  FAULTLINE_ASSIGN_OR_RETURN(Ledger ledger, Ledger::Open(options.ledger_path));
  return std::unique_ptr<ProxyFaults>(
      new ProxyFaults(std::make_unique<State>(nullptr, std::move(ledger), std::move(options))));
}

Result<Toxic> ProxyFaults::Add(std::string_view proxy, Toxic toxic, std::string_view reason) {
  FAULTLINE_ASSIGN_OR_RETURN(auto added, state_->Add(proxy, std::move(toxic), reason, "toxic", {}));
  return std::move(added.first);
}

Status ProxyFaults::Remove(std::string_view proxy, std::string_view toxic,
                           std::string_view reason) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->held.find({std::string(proxy), std::string(toxic)});
    if (it != state_->held.end()) id = it->second;
  }
  Toxic removed = NamedToxic(std::string(toxic));
  if (state_->server != nullptr) {
    if (auto info = state_->server->GetProxy(proxy)) {
      for (const Toxic& t : info->toxics) {
        if (t.name == toxic) removed = t;
      }
    }
  }
  ToxicChange change{.action = ToxicChange::Action::kRemoved,
                     .ledger_id = id,
                     .proxy = std::string(proxy),
                     .toxic = removed,
                     .ok = true,
                     .detail = "removed",
                     .reason = std::string(reason),
                     .mono_ns = 0};
  Status done = state_->RemoveNow(proxy, toxic);
  if (!done && done.error().code() != ErrorCode::kNotFound) {
    change.ok = false;
    change.detail = done.error().message();
    state_->Notify(std::move(change));
    return done;
  }
  const bool was_there = static_cast<bool>(done);
  const auto closed = state_->CloseMatching(
      [&](const LedgerObject& o) { return o.proxy == proxy && o.name == toxic; },
      was_there ? fmt::format("removed ({})", reason)
                : fmt::format("already gone when removed ({})", reason));
  {
    std::lock_guard lock(state_->mu);
    state_->held.erase({std::string(proxy), std::string(toxic)});
  }
  if (!was_there && id == 0 && closed.empty()) return done;  // never ours, not there
  if (id == 0 && !closed.empty()) change.ledger_id = closed.front().ledger_id;
  if (!was_there) change.detail = "already gone";
  state_->Notify(std::move(change));
  return OkStatus();
}

FaultReport ProxyFaults::RemoveAll(std::string_view reason) {
  FaultReport report;
  report.kind = FaultKind::kHeal;
  report.start_mono_ns = internal::MonoNanos();
  report.ok = true;
  for (const Held& h : held()) {
    Status removed = Remove(h.proxy, h.toxic, reason);
    if (removed) {
      report.details.push_back(
          fmt::format("{}: toxic {} removed (#{})", h.proxy, h.toxic, h.ledger_id));
    } else {
      report.ok = false;
      report.failed.push_back(h.proxy);
      report.details.push_back(fmt::format("{}: {}", h.proxy, removed.error().message()));
    }
  }
  report.description = fmt::format("remove {} toxic(s): {}", report.details.size(),
                                   report.ok ? "done" : "some failed");
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

Status ProxyFaults::Reset(std::string_view reason) {
  Status done = OkStatus();
  if (state_->server != nullptr) {
    done = state_->server->Reset();
  } else {
    const ApiReply r = CallApi(state_->options.control_address, http::verb::post, "/reset", "");
    if (r.status != 204 && r.status != 200) {
      done = Error(
          ErrorCode::kUnavailable,
          fmt::format("proxies at {}: reset: {}", state_->options.control_address, ApiError(r)));
    }
  }
  if (!done) return done;
  const auto closed = state_->CloseMatching([](const LedgerObject&) { return true; },
                                            fmt::format("removed by reset ({})", reason));
  {
    std::lock_guard lock(state_->mu);
    state_->held.clear();
  }
  for (const Held& h : closed) {
    state_->Notify(ToxicChange{.action = ToxicChange::Action::kRemoved,
                               .ledger_id = h.ledger_id,
                               .proxy = h.proxy,
                               .toxic = NamedToxic(h.toxic),
                               .ok = true,
                               .detail = "removed by reset",
                               .reason = std::string(reason),
                               .mono_ns = 0});
  }
  return OkStatus();
}

std::vector<ProxyFaults::Held> ProxyFaults::held() const {
  std::lock_guard lock(state_->mu);
  std::vector<Held> out;
  for (const auto& [key, id] : state_->held) out.push_back({key.first, key.second, id});
  return out;
}

const std::string& ProxyFaults::ledger_path() const { return state_->ledger.path(); }

Result<Toxic> ToxicForFault(const FaultSpec& spec, std::string name) {
  Toxic t{.name = std::move(name),
          .type = ToxicType::kHttpStatus,
          .stream = ToxicStream::kDownstream,
          .toxicity = spec.proxy.share,
          .attributes = {}};
  const bool http = spec.kind != FaultKind::kProxyLatency;
  switch (spec.kind) {
    case FaultKind::kHttpStatus:
      t.attributes["status"] = std::int64_t{spec.proxy.status};
      t.attributes["body"] = spec.proxy.body;
      break;
    case FaultKind::kHttpDelay:
      t.type = ToxicType::kHttpDelay;
      t.attributes["delay"] = std::int64_t{spec.delay.count()};
      break;
    case FaultKind::kHttpDrop:
      t.type = ToxicType::kHttpDrop;
      break;
    case FaultKind::kHttpTruncate:
      t.type = ToxicType::kHttpTruncate;
      t.attributes["bytes"] = spec.proxy.bytes;
      break;
    case FaultKind::kProxyLatency:
      t.type = ToxicType::kLatency;
      t.attributes["latency"] = std::int64_t{spec.delay.count()};
      t.attributes["jitter"] = std::int64_t{spec.jitter.count()};
      break;
    default:
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("a {} fault is not a proxy fault (expected {})", FaultKindName(spec.kind),
                      "http-status, http-delay, http-drop, http-truncate or "
                      "proxy-latency"));
  }
  if (http) {
    t.attributes["method"] = spec.proxy.method;
    t.attributes["path"] = spec.proxy.path;
    t.attributes["header"] = spec.proxy.header;
    t.attributes["header_value"] = spec.proxy.header_value;
  }
  return NormalizeToxic(std::move(t));
}

Result<FaultReport> ApplyProxyFault(ProxyFaults& faults, const FaultSpec& spec,
                                    const std::vector<std::string>& targets) {
  FAULTLINE_RETURN_IF_ERROR(ValidateFaultSpec(spec));
  static std::atomic<std::uint64_t> next{1};
  const std::string name = fmt::format("{}-{}", FaultKindName(spec.kind), next++);
  FAULTLINE_ASSIGN_OR_RETURN(Toxic toxic, ToxicForFault(spec, name));
  FaultReport report;
  report.kind = spec.kind;
  report.description = DescribeFault(spec);
  report.nodes = targets;
  report.start_mono_ns = internal::MonoNanos();
  for (const std::string& node : targets) {
    auto added =
        faults.state_->Add(node, toxic, "fault", std::string(FaultKindName(spec.kind)), {node});
    if (!added) {
      report.failed.push_back(node);
      report.details.push_back(fmt::format("{}: {}", node, added.error().message()));
      continue;
    }
    if (report.ledger_id == 0) report.ledger_id = added->second;
    report.details.push_back(fmt::format("{}: toxic {} on proxy {} (#{})", node,
                                         DescribeToxic(added->first), node, added->second));
  }
  report.ok = report.failed.empty();
  if (!report.ok && report.failed.size() < targets.size()) {
    report.notes.push_back("toxics added on other proxies stay until healed");
  }
  report.end_mono_ns = internal::MonoNanos();
  return report;
}

namespace internal {

Result<std::string> HealToxicObject(const LedgerObject& o) {
  const std::string what = fmt::format("toxic {} on proxy {}", o.name, o.proxy);
  if (o.pid != 0 && !IsSameProcess(o.pid, o.start_time)) {
    return fmt::format(
        "{}: its host process pid {} is gone: the in-process proxy and its toxics "
        "died with it (nothing to remove)",
        what, o.pid);
  }
  if (o.pid != 0 && o.pid == SelfPid() && o.start_time == SelfStartTime()) {
    ProxyServer* server = nullptr;
    {
      std::lock_guard lock(g_registry_mu);
      auto it = Registry().find(o.handle);
      if (it != Registry().end()) server = it->second;
    }
    if (server != nullptr) {
      Status removed = server->RemoveToxic(o.proxy, o.name);
      if (removed) return fmt::format("{}: removed", what);
      if (removed.error().code() == ErrorCode::kNotFound) {
        return fmt::format("{}: already gone", what);
      }
      return std::move(removed).error();
    }
    if (o.address.empty()) {
      return fmt::format("{}: its in-process proxy server (#{}) was closed (nothing to remove)",
                         what, o.handle);
    }
  }
  if (o.address.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: held by the in-process proxy of live process pid {}, which "
                                 "has no control address: that process removes it (or end it)",
                                 what, o.pid));
  }
  const ApiReply r = CallApi(o.address, http::verb::delete_,
                             fmt::format("/proxies/{}/toxics/{}", o.proxy, o.name), "");
  if (r.status == 204 || r.status == 200) {
    return fmt::format("{}: removed at {}", what, o.address);
  }
  if (r.status == 404) return fmt::format("{}: already gone at {}", what, o.address);
  if (r.refused) {
    return fmt::format("{}: nothing listens on {}: the proxy daemon is gone and its toxics with it",
                       what, o.address);
  }
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("{}: remove at {}: {}", what, o.address, ApiError(r)));
}

}  // namespace internal

}  // namespace faultline::nemesis
