#include "nemesis/proxy.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "nemesis/internal/proxy_link.h"

namespace faultline::nemesis {

namespace asio = boost::asio;
using internal::ActiveToxic;
using internal::ProxyEntry;
using tcp = asio::ip::tcp;

struct ProxyServer::State {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::atomic<bool> stopped{false};
  std::atomic<bool> joined{false};
  std::uint64_t seed = 0;
  std::uint64_t next_toxic_id = 1;
  std::map<std::string, std::shared_ptr<ProxyEntry>, std::less<>> proxies;

  // Runs `f` on the io thread and returns its result (inline when already there).
  template <typename F>
  auto Run(F f) -> decltype(f()) {
    // Once the io thread is joined nothing else touches the state, so `f` runs here.
    if (joined || io.get_executor().running_in_this_thread()) return f();
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto future = task.get_future();
    asio::post(io, [&task] { task(); });
    return future.get();
  }

  Result<ProxyEntry*> Find(std::string_view name) {
    auto it = proxies.find(name);
    if (it == proxies.end()) {
      return MakeError(ErrorCode::kNotFound, fmt::format("proxy {}: not found", name));
    }
    return it->second.get();
  }

  static ProxyInfo Info(const ProxyEntry& entry) {
    ProxyInfo info{.config = entry.config, .toxics = {}};
    for (const auto& t : entry.toxics) info.toxics.push_back(t->toxic);
    return info;
  }

  static asio::awaitable<void> AcceptLoop(std::shared_ptr<ProxyEntry> entry) {
    for (;;) {
      if (!entry->acceptor) co_return;
      tcp::acceptor& acceptor = *entry->acceptor;
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !entry->acceptor ||
          &*entry->acceptor != &acceptor || !acceptor.is_open()) {
        co_return;
      }
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        asio::steady_timer timer(entry->io, std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      internal::Link::Start(entry, std::move(socket));
    }
  }

  Status Listen(ProxyEntry& entry, const std::shared_ptr<ProxyEntry>& owner) {
    auto endpoint = internal::ParseEndpoint(entry.config.listen, "listen");
    if (!endpoint) return endpoint.error().WithContext(fmt::format("proxy {}", entry.config.name));
    boost::system::error_code ec;
    tcp::acceptor acceptor(io);
    acceptor.open(endpoint->protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(*endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("proxy {}: listen on {}: {}", entry.config.name,
                                   entry.config.listen, ec.message()));
    }
    auto bound = acceptor.local_endpoint(ec);
    if (!ec) {
      entry.config.listen = bound.address().is_v6()
                                ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                : fmt::format("{}:{}", bound.address().to_string(), bound.port());
    }
    entry.acceptor.emplace(std::move(acceptor));
    asio::co_spawn(io, AcceptLoop(owner), [](std::exception_ptr) {});
    return OkStatus();
  }

  static void Unlisten(ProxyEntry& entry) {
    if (entry.acceptor) {
      boost::system::error_code ec;
      entry.acceptor->close(ec);
      entry.acceptor.reset();
    }
    entry.CloseLinks();
  }

  Result<ProxyInfo> Create(const ProxyConfig& config) {
    if (config.name.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "proxy: name: missing");
    }
    if (proxies.count(config.name) != 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("proxy {}: already exists", config.name));
    }
    // Checked now so that a bad upstream is a 400, not a connection refused later.
    if (config.upstream.empty() || config.upstream.find(':') == std::string::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("proxy {}: upstream: '{}' is not host:port", config.name, config.upstream));
    }
    auto entry = std::make_shared<ProxyEntry>(io);
    entry->config = config;
    // FNV-1a of the name, so each proxy's draws depend on the seed and its name only.
    std::uint64_t h = 1469598103934665603ULL;
    for (char c : config.name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    entry->rng.seed(seed ^ h);
    if (config.enabled) {
      if (auto status = Listen(*entry, entry); !status) return status.error();
    } else if (auto endpoint = internal::ParseEndpoint(config.listen, "listen"); !endpoint) {
      return endpoint.error().WithContext(fmt::format("proxy {}", config.name));
    }
    proxies.emplace(config.name, entry);
    return Info(*entry);
  }

  Result<ProxyInfo> Update(std::string_view name, const ProxyUpdate& update) {
    auto it = proxies.find(name);
    if (it == proxies.end()) {
      return MakeError(ErrorCode::kNotFound, fmt::format("proxy {}: not found", name));
    }
    ProxyEntry& entry = *it->second;
    ProxyConfig next = entry.config;
    if (update.listen) next.listen = *update.listen;
    if (update.upstream) next.upstream = *update.upstream;
    if (update.enabled) next.enabled = *update.enabled;
    if (next.upstream.find(':') == std::string::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("proxy {}: upstream: '{}' is not host:port", name, next.upstream));
    }
    const bool rebind =
        next.listen != entry.config.listen || next.upstream != entry.config.upstream;
    if (entry.config.enabled && (!next.enabled || rebind)) Unlisten(entry);
    const bool listening = entry.acceptor.has_value();
    entry.config = next;
    if (next.enabled && !listening) {
      if (auto status = Listen(entry, it->second); !status) {
        entry.config.enabled = false;
        return status.error();
      }
    }
    return Info(entry);
  }

  Status Delete(std::string_view name) {
    auto it = proxies.find(name);
    if (it == proxies.end()) {
      return MakeError(ErrorCode::kNotFound, fmt::format("proxy {}: not found", name));
    }
    Unlisten(*it->second);
    proxies.erase(it);
    return OkStatus();
  }
};

ProxyServer::ProxyServer(Options options) : state_(std::make_unique<State>()) {
  state_->seed = options.seed;
  state_->work.emplace(state_->io.get_executor());
  state_->thread = std::thread([this] {
    // Handlers report errors through codes; anything thrown is a bug that must not end the
    // process while it serves, so it is dropped and the loop goes on.
    for (;;) {
      try {
        state_->io.run();
        return;
      } catch (const std::exception&) {
      }
    }
  });
}

ProxyServer::~ProxyServer() { Stop(); }

void ProxyServer::Stop() {
  if (state_->stopped.exchange(true)) return;
  state_->Run([this] {
    for (auto& [name, entry] : state_->proxies) State::Unlisten(*entry);
    state_->proxies.clear();
    return 0;
  });
  state_->work.reset();
  state_->io.stop();
  if (state_->thread.joinable()) state_->thread.join();
  state_->joined = true;
}

asio::io_context& ProxyServer::io_context() { return state_->io; }

void ProxyServer::RunOnIoThread(const std::function<void()>& f) {
  state_->Run([&] {
    f();
    return 0;
  });
}

Result<ProxyInfo> ProxyServer::CreateProxy(const ProxyConfig& config) {
  return state_->Run([&] { return state_->Create(config); });
}

Result<ProxyInfo> ProxyServer::UpdateProxy(std::string_view name, const ProxyUpdate& update) {
  return state_->Run([&] { return state_->Update(name, update); });
}

Status ProxyServer::DeleteProxy(std::string_view name) {
  return state_->Run([&] { return state_->Delete(name); });
}

Result<ProxyInfo> ProxyServer::GetProxy(std::string_view name) const {
  return state_->Run([&]() -> Result<ProxyInfo> {
    FAULTLINE_ASSIGN_OR_RETURN(ProxyEntry * entry, state_->Find(name));
    return State::Info(*entry);
  });
}

std::vector<ProxyInfo> ProxyServer::ListProxies() const {
  return state_->Run([&] {
    std::vector<ProxyInfo> out;
    for (const auto& [name, entry] : state_->proxies) out.push_back(State::Info(*entry));
    return out;
  });
}

Result<std::vector<ProxyInfo>> ProxyServer::Populate(const std::vector<ProxyConfig>& configs) {
  return state_->Run([&]() -> Result<std::vector<ProxyInfo>> {
    std::vector<ProxyInfo> out;
    for (const ProxyConfig& config : configs) {
      if (state_->proxies.count(config.name) != 0) {
        FAULTLINE_ASSIGN_OR_RETURN(
            ProxyInfo info, state_->Update(config.name, ProxyUpdate{.listen = config.listen,
                                                                    .upstream = config.upstream,
                                                                    .enabled = config.enabled}));
        out.push_back(std::move(info));
      } else {
        FAULTLINE_ASSIGN_OR_RETURN(ProxyInfo info, state_->Create(config));
        out.push_back(std::move(info));
      }
    }
    return out;
  });
}

Result<Toxic> ProxyServer::AddToxic(std::string_view proxy, Toxic toxic) {
  return state_->Run([&]() -> Result<Toxic> {
    FAULTLINE_ASSIGN_OR_RETURN(ProxyEntry * entry, state_->Find(proxy));
    FAULTLINE_ASSIGN_OR_RETURN(Toxic normal, NormalizeToxic(std::move(toxic)));
    for (const auto& t : entry->toxics) {
      if (t->toxic.name == normal.name) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("proxy {}: toxic {}: already exists", proxy, normal.name));
      }
    }
    auto active = std::make_shared<ActiveToxic>(ActiveToxic{normal, state_->next_toxic_id++});
    entry->toxics.push_back(std::move(active));
    entry->ToxicsChanged();
    return normal;
  });
}

Result<Toxic> ProxyServer::UpdateToxic(std::string_view proxy, std::string_view toxic,
                                       const ToxicUpdate& update) {
  return state_->Run([&]() -> Result<Toxic> {
    FAULTLINE_ASSIGN_OR_RETURN(ProxyEntry * entry, state_->Find(proxy));
    for (auto& t : entry->toxics) {
      if (t->toxic.name != toxic) continue;
      Toxic next = t->toxic;
      if (update.toxicity) next.toxicity = *update.toxicity;
      if (update.stream) next.stream = *update.stream;
      for (const auto& [key, value] : update.attributes) next.attributes[key] = value;
      FAULTLINE_ASSIGN_OR_RETURN(Toxic normal, NormalizeToxic(std::move(next)));
      // A changed toxic is a new one for the per-connection draws and timers.
      t = std::make_shared<ActiveToxic>(ActiveToxic{normal, state_->next_toxic_id++});
      entry->ToxicsChanged();
      return normal;
    }
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("proxy {}: toxic {}: not found", proxy, toxic));
  });
}

Status ProxyServer::RemoveToxic(std::string_view proxy, std::string_view toxic) {
  return state_->Run([&]() -> Status {
    FAULTLINE_ASSIGN_OR_RETURN(ProxyEntry * entry, state_->Find(proxy));
    auto it = std::find_if(entry->toxics.begin(), entry->toxics.end(),
                           [&](const auto& t) { return t->toxic.name == toxic; });
    if (it == entry->toxics.end()) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("proxy {}: toxic {}: not found", proxy, toxic));
    }
    entry->toxics.erase(it);
    return OkStatus();
  });
}

Status ProxyServer::Reset() {
  return state_->Run([&]() -> Status {
    Status first;
    for (auto& [name, entry] : state_->proxies) {
      entry->toxics.clear();
      if (!entry->config.enabled) {
        auto updated =
            state_->Update(name, ProxyUpdate{.listen = {}, .upstream = {}, .enabled = true});
        if (!updated && first) first = updated.error();
      }
    }
    return first;
  });
}

}  // namespace faultline::nemesis
