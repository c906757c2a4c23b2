// One proxied connection (a Link) and the proxy state it reads: the client's socket, the
// upstream socket, and a pump per stream that passes each chunk through the stream's toxics.
//
// Thread-safety: everything here lives on the ProxyServer's single io_context thread.
#ifndef FAULTLINE_NEMESIS_INTERNAL_PROXY_LINK_H_
#define FAULTLINE_NEMESIS_INTERNAL_PROXY_LINK_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "nemesis/proxy.h"
#include "nemesis/toxic.h"

namespace faultline::nemesis::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A toxic as installed: its id tells a re-added toxic of the same name from the old one.
struct ActiveToxic {
  Toxic toxic;
  std::uint64_t id = 0;
};

class Link;

struct ProxyEntry {
  explicit ProxyEntry(asio::io_context& io_context) : io(io_context) {}

  asio::io_context& io;
  ProxyConfig config;  // config.listen: the bound address while enabled
  std::vector<std::shared_ptr<const ActiveToxic>> toxics;
  std::optional<tcp::acceptor> acceptor;
  std::map<std::uint64_t, std::weak_ptr<Link>> links;
  std::uint64_t next_link = 1;
  std::mt19937_64 rng;

  // Closes every open connection of this proxy.
  void CloseLinks();
  // Tells open connections that toxics changed (timed toxics start).
  void ToxicsChanged();
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(std::shared_ptr<ProxyEntry> proxy, tcp::socket client, std::uint64_t seed, std::uint64_t id);

  // Connects upstream and starts both pumps; the link keeps itself alive while they run.
  static void Start(std::shared_ptr<ProxyEntry> proxy, tcp::socket client);

  // Arms the timed toxics (timeout, reset_peer) that apply to this connection and are not armed.
  void ToxicsChanged();
  // Closes both sockets; with `reset`, the client's with an RST.
  void Close(bool reset = false);

 private:
  // Spawned coroutines take their owner as a parameter: it is copied into the frame when the
  // coroutine is created, before the caller's reference can go.
  asio::awaitable<void> Run(std::shared_ptr<Link> self);
  asio::awaitable<void> Pump(std::shared_ptr<Link> self, ToxicStream stream);
  // Passes a chunk through the stream's TCP toxics; false once the link is closed.
  asio::awaitable<bool> Forward(ToxicStream stream, std::string_view data);
  // Upstream: splits the bytes into requests and applies the HTTP toxics to each.
  asio::awaitable<bool> ScanRequests(std::string_view data);
  // Downstream while a reply is to be truncated.
  asio::awaitable<bool> ScanReply(std::string_view data);
  asio::awaitable<bool> Write(tcp::socket& to, std::string_view data);
  asio::awaitable<void> Sleep(std::chrono::microseconds duration);
  asio::awaitable<void> RunTimedToxic(std::shared_ptr<Link> self,
                                      std::shared_ptr<const ActiveToxic> toxic);
  // Whether a TCP toxic applies to this connection (drawn once per toxic).
  bool Applies(const ActiveToxic& toxic);
  bool Draw(double toxicity);

  std::shared_ptr<ProxyEntry> proxy_;
  tcp::socket client_;
  tcp::socket server_;
  std::mt19937_64 rng_;
  std::uint64_t id_;
  std::map<std::uint64_t, bool> draws_;
  std::set<std::uint64_t> armed_;
  std::uint64_t passed_[2] = {0, 0};
  int writing_[2] = {0, 0};  // asynchronous writes under way to server_ [0] and client_ [1]
  bool closed_ = false;
  std::array<char, 16384> buffers_[2];

  // Request scanning (upstream).
  std::string request_head_;
  std::int64_t request_body_left_ = 0;
  bool skip_request_body_ = false;  // the request was answered by the proxy
  bool raw_ = false;                // not HTTP: plain TCP from here on
  // Reply truncation (downstream).
  std::optional<std::int64_t> truncate_;
  std::string reply_head_;
  std::int64_t reply_keep_ = -1;  // body bytes still passed before the close; -1: not in a body
};

// "host:port" -> endpoint (numeric hosts, "localhost", and "[v6]:port"); InvalidArgument naming
// `field` otherwise.
Result<tcp::endpoint> ParseEndpoint(std::string_view text, std::string_view field);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_PROXY_LINK_H_
