#include "nemesis/proxy_api.h"

#include <fmt/format.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>

#include "nemesis/internal/proxy_link.h"
#include "nemesis/proxy_faults.h"

namespace faultline::nemesis {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using internal::tcp;
using json = nlohmann::ordered_json;

constexpr std::string_view kVersion = "2.12.0-faultline";

json ToxicJson(const Toxic& toxic) {
  json attributes = json::object();
  for (const ToxicAttributeSpec& spec : ToxicAttributeSpecs(toxic.type)) {
    auto it = toxic.attributes.find(spec.name);
    if (it == toxic.attributes.end()) continue;
    if (const auto* n = std::get_if<std::int64_t>(&it->second)) {
      attributes[std::string(spec.name)] = *n;
    } else {
      attributes[std::string(spec.name)] = std::get<std::string>(it->second);
    }
  }
  return json{{"attributes", attributes},
              {"name", toxic.name},
              {"type", ToxicTypeName(toxic.type)},
              {"stream", ToxicStreamName(toxic.stream)},
              {"toxicity", toxic.toxicity}};
}

json ProxyJson(const ProxyInfo& info) {
  json toxics = json::array();
  for (const Toxic& t : info.toxics) toxics.push_back(ToxicJson(t));
  return json{{"name", info.config.name},
              {"listen", info.config.listen},
              {"upstream", info.config.upstream},
              {"enabled", info.config.enabled},
              {"toxics", toxics}};
}

ControlResponse JsonResponse(int status, const json& body) { return {status, body.dump()}; }

ControlResponse ErrorResponse(int status, std::string_view message) {
  return JsonResponse(status, json{{"error", message}, {"status", status}});
}

int HttpStatus(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return error.message().find("already exists") != std::string::npos ? 409 : 400;
    case ErrorCode::kNotFound:
      return 404;
    default:
      return 500;
  }
}

ControlResponse ErrorResponse(const Error& error) {
  return ErrorResponse(HttpStatus(error), error.message());
}

// Field readers: InvalidArgument naming the field on a wrong type.
Result<std::optional<std::string>> OptString(const json& object, const char* field,
                                             std::string_view where) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}{}: must be a string", where, field));
  }
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<bool>> OptBool(const json& object, const char* field, std::string_view where) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}{}: must be true or false", where, field));
  }
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<double>> OptNumber(const json& object, const char* field,
                                        std::string_view where) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}{}: must be a number", where, field));
  }
  return std::optional<double>(it->get<double>());
}

Result<ToxicAttributes> ParseAttributes(const json& object) {
  ToxicAttributes out;
  auto it = object.find("attributes");
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "attributes: must be an object");
  }
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) {
      out.emplace(key, value.get<std::string>());
    } else if (value.is_number_integer()) {
      out.emplace(key, value.get<std::int64_t>());
    } else if (value.is_number() && std::floor(value.get<double>()) == value.get<double>()) {
      out.emplace(key, static_cast<std::int64_t>(value.get<double>()));
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("attributes.{}: must be an integer or a string", key));
    }
  }
  return out;
}

Result<ProxyConfig> ParseProxyConfig(const json& object, std::string_view where) {
  if (!object.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}must be an object", where));
  }
  FAULTLINE_ASSIGN_OR_RETURN(auto name, OptString(object, "name", where));
  FAULTLINE_ASSIGN_OR_RETURN(auto listen, OptString(object, "listen", where));
  FAULTLINE_ASSIGN_OR_RETURN(auto upstream, OptString(object, "upstream", where));
  FAULTLINE_ASSIGN_OR_RETURN(auto enabled, OptBool(object, "enabled", where));
  if (!name || name->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}name: missing", where));
  }
  if (!upstream || upstream->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}upstream: missing", where));
  }
  return ProxyConfig{.name = *name,
                     .listen = listen.value_or("127.0.0.1:0"),
                     .upstream = *upstream,
                     .enabled = enabled.value_or(true)};
}

Result<Toxic> ParseToxic(const json& object) {
  if (!object.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "toxic: must be an object");
  }
  FAULTLINE_ASSIGN_OR_RETURN(auto name, OptString(object, "name", ""));
  FAULTLINE_ASSIGN_OR_RETURN(auto type_name, OptString(object, "type", ""));
  FAULTLINE_ASSIGN_OR_RETURN(auto stream_name, OptString(object, "stream", ""));
  FAULTLINE_ASSIGN_OR_RETURN(auto toxicity, OptNumber(object, "toxicity", ""));
  if (!type_name) return MakeError(ErrorCode::kInvalidArgument, "type: missing");
  FAULTLINE_ASSIGN_OR_RETURN(ToxicType type, ParseToxicType(*type_name));
  ToxicStream stream = ToxicStream::kDownstream;
  if (stream_name && !stream_name->empty()) {
    FAULTLINE_ASSIGN_OR_RETURN(stream, ParseToxicStream(*stream_name));
  }
  FAULTLINE_ASSIGN_OR_RETURN(ToxicAttributes attributes, ParseAttributes(object));
  return Toxic{.name = name.value_or(""),
               .type = type,
               .stream = stream,
               .toxicity = toxicity.value_or(1.0),
               .attributes = std::move(attributes)};
}

Result<json> ParseBody(std::string_view body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body: not valid JSON");
  }
  return parsed;
}

std::vector<std::string> SplitPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  while (!target.empty()) {
    if (target.front() == '/') {
      target.remove_prefix(1);
      continue;
    }
    std::size_t slash = target.find('/');
    parts.emplace_back(target.substr(0, slash));
    target.remove_prefix(slash == std::string_view::npos ? target.size() : slash);
  }
  return parts;
}

ControlResponse HandleToxics(ProxyServer& proxies, ProxyFaults* faults, std::string_view method,
                             const std::string& proxy, const std::vector<std::string>& parts,
                             std::string_view body) {
  if (parts.size() == 3) {
    if (method == "GET") {
      auto info = proxies.GetProxy(proxy);
      if (!info) return ErrorResponse(info.error());
      json out = json::array();
      for (const Toxic& t : info->toxics) out.push_back(ToxicJson(t));
      return JsonResponse(200, out);
    }
    if (method == "POST") {
      auto parsed = ParseBody(body);
      if (!parsed) return ErrorResponse(parsed.error());
      auto toxic = ParseToxic(*parsed);
      if (!toxic) return ErrorResponse(toxic.error());
      auto added = faults != nullptr ? faults->Add(proxy, std::move(*toxic), "api")
                                     : proxies.AddToxic(proxy, std::move(*toxic));
      if (!added) return ErrorResponse(added.error());
      return JsonResponse(200, ToxicJson(*added));
    }
    return ErrorResponse(405, "method not allowed");
  }
  const std::string& name = parts[3];
  if (method == "GET") {
    auto info = proxies.GetProxy(proxy);
    if (!info) return ErrorResponse(info.error());
    for (const Toxic& t : info->toxics) {
      if (t.name == name) return JsonResponse(200, ToxicJson(t));
    }
    return ErrorResponse(404, fmt::format("proxy {}: toxic {}: not found", proxy, name));
  }
  if (method == "POST" || method == "PATCH") {
    auto parsed = ParseBody(body);
    if (!parsed) return ErrorResponse(parsed.error());
    if (!parsed->is_object()) return ErrorResponse(400, "toxic: must be an object");
    ToxicUpdate update;
    auto toxicity = OptNumber(*parsed, "toxicity", "");
    if (!toxicity) return ErrorResponse(toxicity.error());
    update.toxicity = *toxicity;
    auto stream = OptString(*parsed, "stream", "");
    if (!stream) return ErrorResponse(stream.error());
    if (*stream && !(*stream)->empty()) {
      auto s = ParseToxicStream(**stream);
      if (!s) return ErrorResponse(s.error());
      update.stream = *s;
    }
    auto attributes = ParseAttributes(*parsed);
    if (!attributes) return ErrorResponse(attributes.error());
    update.attributes = std::move(*attributes);
    auto updated = proxies.UpdateToxic(proxy, name, update);
    if (!updated) return ErrorResponse(updated.error());
    return JsonResponse(200, ToxicJson(*updated));
  }
  if (method == "DELETE") {
    auto removed =
        faults != nullptr ? faults->Remove(proxy, name, "api") : proxies.RemoveToxic(proxy, name);
    if (!removed) return ErrorResponse(removed.error());
    return {204, ""};
  }
  return ErrorResponse(405, "method not allowed");
}

ControlResponse HandleProxy(ProxyServer& proxies, ProxyFaults* faults, std::string_view method,
                            const std::string& name, std::string_view body) {
  if (method == "GET") {
    auto info = proxies.GetProxy(name);
    if (!info) return ErrorResponse(info.error());
    return JsonResponse(200, ProxyJson(*info));
  }
  if (method == "POST" || method == "PATCH") {
    auto parsed = ParseBody(body);
    if (!parsed) return ErrorResponse(parsed.error());
    if (!parsed->is_object()) return ErrorResponse(400, "proxy: must be an object");
    ProxyUpdate update;
    auto listen = OptString(*parsed, "listen", "");
    if (!listen) return ErrorResponse(listen.error());
    auto upstream = OptString(*parsed, "upstream", "");
    if (!upstream) return ErrorResponse(upstream.error());
    auto enabled = OptBool(*parsed, "enabled", "");
    if (!enabled) return ErrorResponse(enabled.error());
    update.listen = *listen;
    update.upstream = *upstream;
    update.enabled = *enabled;
    auto updated = proxies.UpdateProxy(name, update);
    if (!updated) return ErrorResponse(updated.error());
    return JsonResponse(200, ProxyJson(*updated));
  }
  if (method == "DELETE") {
    // Its toxics go first, through the ledger.
    if (faults != nullptr) {
      for (const ProxyFaults::Held& h : faults->held()) {
        if (h.proxy != name) continue;
        if (auto removed = faults->Remove(h.proxy, h.toxic, "api"); !removed) {
          return ErrorResponse(removed.error());
        }
      }
    }
    auto deleted = proxies.DeleteProxy(name);
    if (!deleted) return ErrorResponse(deleted.error());
    return {204, ""};
  }
  return ErrorResponse(405, "method not allowed");
}

}  // namespace

Result<std::vector<ProxyConfig>> ParseProxyConfigs(std::string_view text) {
  FAULTLINE_ASSIGN_OR_RETURN(json parsed, ParseBody(text));
  if (!parsed.is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "proxies: must be a JSON array of proxies");
  }
  std::vector<ProxyConfig> out;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    FAULTLINE_ASSIGN_OR_RETURN(ProxyConfig config,
                               ParseProxyConfig(parsed[i], fmt::format("proxies[{}].", i)));
    out.push_back(std::move(config));
  }
  return out;
}

std::string ToxicToJson(const Toxic& toxic) { return ToxicJson(toxic).dump(); }

Result<Toxic> ToxicFromJson(std::string_view text) {
  FAULTLINE_ASSIGN_OR_RETURN(json parsed, ParseBody(text));
  return ParseToxic(parsed);
}

ControlResponse HandleControlRequest(ProxyServer& proxies, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     ProxyFaults* faults) {
  const std::vector<std::string> parts = SplitPath(target);
  if (parts.size() == 1 && parts[0] == "version" && method == "GET") {
    return JsonResponse(200, json{{"version", kVersion}});
  }
  if (parts.size() == 1 && parts[0] == "reset" && method == "POST") {
    auto reset = faults != nullptr ? faults->Reset("api") : proxies.Reset();
    if (!reset) return ErrorResponse(reset.error());
    return {204, ""};
  }
  if (parts.size() == 1 && parts[0] == "populate" && method == "POST") {
    auto configs = ParseProxyConfigs(body);
    if (!configs) return ErrorResponse(configs.error());
    auto populated = proxies.Populate(*configs);
    if (!populated) return ErrorResponse(populated.error());
    json list = json::array();
    for (const ProxyInfo& info : *populated) list.push_back(ProxyJson(info));
    return JsonResponse(201, json{{"proxies", list}});
  }
  if (parts.empty() || parts[0] != "proxies") {
    return ErrorResponse(404, fmt::format("{} {}: no such endpoint", method, target));
  }
  if (parts.size() == 1) {
    if (method == "GET") {
      json out = json::object();
      for (const ProxyInfo& info : proxies.ListProxies()) out[info.config.name] = ProxyJson(info);
      return JsonResponse(200, out);
    }
    if (method == "POST") {
      auto parsed = ParseBody(body);
      if (!parsed) return ErrorResponse(parsed.error());
      auto config = ParseProxyConfig(*parsed, "");
      if (!config) return ErrorResponse(config.error());
      auto created = proxies.CreateProxy(*config);
      if (!created) return ErrorResponse(created.error());
      return JsonResponse(201, ProxyJson(*created));
    }
    return ErrorResponse(405, "method not allowed");
  }
  if (parts.size() == 2) return HandleProxy(proxies, faults, method, parts[1], body);
  if (parts[2] == "toxics" && parts.size() <= 4) {
    return HandleToxics(proxies, faults, method, parts[1], parts, body);
  }
  return ErrorResponse(404, fmt::format("{} {}: no such endpoint", method, target));
}

struct ControlServer::State {
  ProxyFaults* faults = nullptr;
  std::optional<tcp::acceptor> acceptor;
  std::map<std::uint64_t, std::shared_ptr<tcp::socket>> sessions;
  std::uint64_t next_session = 1;
  bool stopped = false;
};

namespace {

asio::awaitable<void> Session(ProxyServer& proxies, std::shared_ptr<ControlServer::State> state,
                              std::uint64_t id, std::shared_ptr<tcp::socket> socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    boost::system::error_code ec;
    http::request<http::string_body> request;
    co_await http::async_read(*socket, buffer, request,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    ControlResponse answer;
    try {
      answer = HandleControlRequest(
          proxies, std::string_view(request.method_string().data(), request.method_string().size()),
          std::string_view(request.target().data(), request.target().size()), request.body(),
          state->faults);
    } catch (const std::exception& e) {
      answer = ErrorResponse(500, fmt::format("internal error (please report): {}", e.what()));
    }
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               request.version()};
    response.set(http::field::server, "faultline-proxy");
    if (answer.status != 204) response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(answer.body);
    response.prepare_payload();
    co_await http::async_write(*socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !request.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
  state->sessions.erase(id);
}

asio::awaitable<void> AcceptLoop(ProxyServer& proxies,
                                 std::shared_ptr<ControlServer::State> state) {
  while (!state->stopped && state->acceptor) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await state->acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (state->stopped) co_return;
    if (ec) continue;
    const std::uint64_t id = state->next_session++;
    auto shared = std::make_shared<tcp::socket>(std::move(socket));
    state->sessions.emplace(id, shared);
    asio::co_spawn(proxies.io_context(), Session(proxies, state, id, shared),
                   [](std::exception_ptr) {});
  }
}

}  // namespace

ControlServer::ControlServer(ProxyServer& proxies, std::shared_ptr<State> state,
                             std::string address)
    : proxies_(proxies), state_(std::move(state)), address_(std::move(address)) {}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(ProxyServer& proxies,
                                                            std::string_view address,
                                                            ProxyFaults* faults) {
  FAULTLINE_ASSIGN_OR_RETURN(tcp::endpoint endpoint, internal::ParseEndpoint(address, "control"));
  auto state = std::make_shared<State>();
  state->faults = faults;
  Result<std::string> bound = std::string();
  proxies.RunOnIoThread([&] {
    boost::system::error_code ec;
    tcp::acceptor acceptor(proxies.io_context());
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    tcp::endpoint local;
    if (!ec) local = acceptor.local_endpoint(ec);
    if (ec) {
      bound = MakeError(ErrorCode::kUnavailable,
                        fmt::format("control API: listen on {}: {}", address, ec.message()));
      return;
    }
    bound = fmt::format("{}:{}", local.address().to_string(), local.port());
    state->acceptor.emplace(std::move(acceptor));
    asio::co_spawn(proxies.io_context(), AcceptLoop(proxies, state), [](std::exception_ptr) {});
  });
  if (!bound) return bound.error();
  return std::unique_ptr<ControlServer>(new ControlServer(proxies, state, *bound));
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  proxies_.RunOnIoThread([state = state_] {
    if (state->stopped) return;
    state->stopped = true;
    boost::system::error_code ec;
    if (state->acceptor) state->acceptor->close(ec);
    auto sessions = state->sessions;
    for (auto& [id, socket] : sessions) socket->close(ec);
  });
}

}  // namespace faultline::nemesis
