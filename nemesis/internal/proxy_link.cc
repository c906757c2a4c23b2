#include "nemesis/internal/proxy_link.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <exception>

#include "nemesis/internal/http_head.h"

namespace faultline::nemesis::internal {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::size_t kMaxHead = 64 * 1024;

// Coroutines report errors through error codes; an exception escaping one is dropped here rather
// than ending the process from io_context::run.
void Spawn(asio::io_context& io, asio::awaitable<void> task) {
  asio::co_spawn(io, std::move(task), [](std::exception_ptr) {});
}

std::pair<std::string_view, std::string_view> SplitHostPort(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return {text, {}};
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, text.substr(colon + 1)};
}

}  // namespace

Result<tcp::endpoint> ParseEndpoint(std::string_view text, std::string_view field) {
  auto [host, port_text] = SplitHostPort(text);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: '{}' is not host:port", field, text));
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  boost::system::error_code aec;
  asio::ip::address address = asio::ip::make_address(std::string(host), aec);
  if (aec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: '{}' is not a numeric address or localhost", field, host));
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

void ProxyEntry::CloseLinks() {
  auto open = std::move(links);
  links.clear();
  for (auto& [id, weak] : open) {
    if (auto link = weak.lock()) link->Close();
  }
}

void ProxyEntry::ToxicsChanged() {
  for (auto& [id, weak] : links) {
    if (auto link = weak.lock()) link->ToxicsChanged();
  }
}

Link::Link(std::shared_ptr<ProxyEntry> proxy, tcp::socket client, std::uint64_t seed,
           std::uint64_t id)
    : proxy_(std::move(proxy)),
      client_(std::move(client)),
      server_(proxy_->io),
      rng_(seed),
      id_(id) {}

void Link::Start(std::shared_ptr<ProxyEntry> proxy, tcp::socket client) {
  const std::uint64_t seed = proxy->rng();
  const std::uint64_t id = proxy->next_link++;
  auto link = std::make_shared<Link>(proxy, std::move(client), seed, id);
  proxy->links.emplace(id, link);
  Spawn(proxy->io, link->Run(link));
}

asio::awaitable<void> Link::Run(std::shared_ptr<Link> self) {
  boost::system::error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  auto endpoint = ParseEndpoint(proxy_->config.upstream, "upstream");
  if (endpoint) {
    co_await server_.async_connect(*endpoint, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    auto [host, port] = SplitHostPort(proxy_->config.upstream);
    tcp::resolver resolver(proxy_->io);
    auto results = co_await resolver.async_resolve(std::string(host), std::string(port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      co_await asio::async_connect(server_, results, asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  if (ec || closed_) {
    Close();
    co_return;
  }
  server_.set_option(tcp::no_delay(true), ec);
  // Write() sends what it can at once; non-blocking so that a full socket buffer never stalls
  // the io thread (the rest goes through async_write).
  client_.non_blocking(true, ec);
  server_.non_blocking(true, ec);
  ToxicsChanged();
  Spawn(proxy_->io, Pump(self, ToxicStream::kUpstream));
  Spawn(proxy_->io, Pump(self, ToxicStream::kDownstream));
}

void Link::Close(bool reset) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  if (reset) client_.set_option(asio::socket_base::linger(true, 0), ec);
  client_.close(ec);
  server_.close(ec);
  proxy_->links.erase(id_);
}

bool Link::Draw(double toxicity) {
  if (toxicity >= 1.0) return true;
  if (toxicity <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < toxicity;
}

bool Link::Applies(const ActiveToxic& toxic) {
  auto [it, inserted] = draws_.try_emplace(toxic.id, false);
  if (inserted) it->second = Draw(toxic.toxic.toxicity);
  return it->second;
}

void Link::ToxicsChanged() {
  if (closed_) return;
  for (const auto& active : proxy_->toxics) {
    const Toxic& t = active->toxic;
    const bool timed = (t.type == ToxicType::kTimeout && NumberAttribute(t, "timeout") > 0) ||
                       t.type == ToxicType::kResetPeer;
    if (!timed || armed_.count(active->id) != 0 || !Applies(*active)) continue;
    armed_.insert(active->id);
    Spawn(proxy_->io, RunTimedToxic(shared_from_this(), active));
  }
}

asio::awaitable<void> Link::RunTimedToxic([[maybe_unused]] std::shared_ptr<Link> self,
                                          std::shared_ptr<const ActiveToxic> toxic) {
  co_await Sleep(milliseconds(NumberAttribute(toxic->toxic, "timeout")));
  if (closed_) co_return;
  // Only while the toxic is still installed: removing it in time cancels the close.
  const bool present = std::any_of(proxy_->toxics.begin(), proxy_->toxics.end(),
                                   [&](const auto& t) { return t->id == toxic->id; });
  if (present) Close(toxic->toxic.type == ToxicType::kResetPeer);
}

asio::awaitable<void> Link::Sleep(microseconds duration) {
  if (duration.count() <= 0) co_return;
  asio::steady_timer timer(proxy_->io, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<bool> Link::Write(tcp::socket& to, std::string_view data) {
  if (closed_) co_return false;
  boost::system::error_code ec;
  int& writing = writing_[&to == &server_ ? 0 : 1];
  // A chunk nearly always fits in the socket's buffer: one non-blocking send here saves the
  // trip through the io_context that async_write's completion takes (a posted handler and an
  // extra epoll_wait per chunk). Only while no asynchronous write to this socket is under way,
  // so that bytes keep their order.
  if (writing == 0) {
    const std::size_t n = to.write_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
    } else if (ec) {
      Close();
      co_return false;
    } else {
      data.remove_prefix(n);
    }
    if (data.empty()) co_return !closed_;
  }
  ++writing;
  co_await asio::async_write(to, asio::buffer(data.data(), data.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  --writing;
  if (ec || closed_) {
    Close();
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> Link::Pump([[maybe_unused]] std::shared_ptr<Link> self, ToxicStream stream) {
  const int index = stream == ToxicStream::kUpstream ? 0 : 1;
  tcp::socket& from = stream == ToxicStream::kUpstream ? client_ : server_;
  auto& buffer = buffers_[index];
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await from.async_read_some(asio::buffer(buffer),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) co_return;
    if (ec) break;
    std::string_view data(buffer.data(), n);
    bool open = true;
    if (stream == ToxicStream::kUpstream && !raw_) {
      open = co_await ScanRequests(data);
    } else if (stream == ToxicStream::kDownstream && (truncate_ || reply_keep_ >= 0)) {
      open = co_await ScanReply(data);
    } else {
      open = co_await Forward(stream, data);
    }
    if (!open) co_return;
  }
  // The peer closed (or failed): slow_close toxics of this stream hold the close back.
  std::int64_t delay_ms = 0;
  for (const auto& active : proxy_->toxics) {
    if (active->toxic.type == ToxicType::kSlowClose && active->toxic.stream == stream &&
        Applies(*active)) {
      delay_ms = std::max(delay_ms, NumberAttribute(active->toxic, "delay"));
    }
  }
  co_await Sleep(milliseconds(delay_ms));
  Close();
}

asio::awaitable<bool> Link::Forward(ToxicStream stream, std::string_view data) {
  if (closed_) co_return false;
  const int index = stream == ToxicStream::kUpstream ? 0 : 1;
  tcp::socket& to = stream == ToxicStream::kUpstream ? server_ : client_;
  if (proxy_->toxics.empty()) {
    // No toxic on the proxy: what the loop below would do, without its timers.
    if (!co_await Write(to, data)) co_return false;
    passed_[index] += data.size();
    co_return !closed_;
  }
  std::int64_t latency_us = 0;
  std::int64_t rate = 0;
  std::int64_t slice_size = 0, slice_variation = 0, slice_delay_us = 0;
  std::optional<std::int64_t> limit;
  bool stall = false;
  // Settings are read before the first suspension, so a concurrent change applies to the next
  // chunk as a whole.
  for (const auto& active : proxy_->toxics) {
    const Toxic& t = active->toxic;
    if (IsHttpToxic(t.type) || t.stream != stream || !Applies(*active)) continue;
    switch (t.type) {
      case ToxicType::kLatency: {
        std::int64_t jitter = NumberAttribute(t, "jitter");
        std::int64_t ms = NumberAttribute(t, "latency");
        if (jitter > 0) ms += std::uniform_int_distribution<std::int64_t>(-jitter, jitter)(rng_);
        latency_us += std::max<std::int64_t>(ms, 0) * 1000;
        break;
      }
      case ToxicType::kBandwidth:
        rate = NumberAttribute(t, "rate");
        break;
      case ToxicType::kTimeout:
        stall = true;
        break;
      case ToxicType::kSlicer:
        slice_size = NumberAttribute(t, "average_size");
        slice_variation = NumberAttribute(t, "size_variation");
        slice_delay_us = NumberAttribute(t, "delay");
        break;
      case ToxicType::kLimitData:
        limit = std::min(limit.value_or(NumberAttribute(t, "bytes")), NumberAttribute(t, "bytes"));
        break;
      default:
        break;
    }
  }
  if (stall) co_return true;  // dropped; the timed close, if any, is armed
  co_await Sleep(microseconds(latency_us));
  if (closed_) co_return false;
  bool close_after = false;
  if (limit) {
    const std::uint64_t allowed =
        passed_[index] >= static_cast<std::uint64_t>(*limit) ? 0 : *limit - passed_[index];
    if (data.size() >= allowed) {
      data = data.substr(0, allowed);
      close_after = true;
    }
  }
  if (slice_size > 0) {
    std::string_view rest = data;
    while (!rest.empty()) {
      std::int64_t size = slice_size;
      if (slice_variation > 0) {
        size +=
            std::uniform_int_distribution<std::int64_t>(-slice_variation, slice_variation)(rng_);
      }
      size = std::clamp<std::int64_t>(size, 1, static_cast<std::int64_t>(rest.size()));
      if (!co_await Write(to, rest.substr(0, size))) co_return false;
      rest.remove_prefix(size);
      if (!rest.empty()) co_await Sleep(microseconds(slice_delay_us));
    }
  } else if (!data.empty()) {
    if (!co_await Write(to, data)) co_return false;
  }
  passed_[index] += data.size();
  if (rate > 0) {
    // rate KB/s with 1 KB = 1000 bytes: n bytes take n * 1000 / rate µs.
    co_await Sleep(microseconds(static_cast<std::int64_t>(data.size()) * 1000 / rate));
  }
  if (close_after) {
    Close();
    co_return false;
  }
  co_return !closed_;
}

asio::awaitable<bool> Link::ScanRequests(std::string_view data) {
  std::string carry;  // bytes after a head that came in pieces, still to scan
  while (!data.empty()) {
    if (raw_) co_return co_await Forward(ToxicStream::kUpstream, data);
    if (request_body_left_ > 0) {
      const auto take = static_cast<std::size_t>(
          std::min<std::int64_t>(request_body_left_, static_cast<std::int64_t>(data.size())));
      std::string_view body = data.substr(0, take);
      data.remove_prefix(take);
      request_body_left_ -= static_cast<std::int64_t>(take);
      if (!skip_request_body_ && !co_await Forward(ToxicStream::kUpstream, body)) co_return false;
      continue;
    }
    std::string_view head;
    std::string pieced;     // the head, when it came in pieces
    bool in_place = false;  // the head lies in `data`'s buffer, right before what is left
    if (request_head_.empty()) {
      // The usual case: the whole head in this chunk, scanned in place (nothing copied).
      if (auto end = FindHeadEnd(data, 0)) {
        head = data.substr(0, *end);
        data.remove_prefix(*end);
        in_place = true;
      }
    }
    if (head.empty()) {
      const std::size_t from = request_head_.size() >= 3 ? request_head_.size() - 3 : 0;
      request_head_.append(data);
      data = {};
      auto end = FindHeadEnd(request_head_, from);
      if (!end) {
        if (request_head_.size() <= kMaxHead && MayStartRequest(request_head_)) co_return true;
        raw_ = true;
        std::string all = std::move(request_head_);
        request_head_.clear();
        co_return co_await Forward(ToxicStream::kUpstream, all);
      }
      pieced = request_head_.substr(0, *end);
      carry = request_head_.substr(*end);
      request_head_.clear();
      data = carry;
      head = pieced;
    }
    auto parsed = ParseRequestHead(head);
    if (!parsed || parsed->chunked) {
      raw_ = true;
      if (!co_await Forward(ToxicStream::kUpstream, head)) co_return false;
      continue;
    }
    // The request's HTTP toxics, drawn per request, in the order they were added.
    std::int64_t delay_ms = 0;
    bool drop = false;
    std::optional<std::pair<int, std::string>> reply;
    std::optional<std::int64_t> truncate;
    for (const auto& active : proxy_->toxics) {
      const Toxic& t = active->toxic;
      if (!IsHttpToxic(t.type)) continue;
      const std::string& method = StringAttribute(t, "method");
      const std::string& header = StringAttribute(t, "header");
      const std::string& header_value = StringAttribute(t, "header_value");
      if (!method.empty() && method != parsed->method) continue;
      if (!GlobMatch(StringAttribute(t, "path"), parsed->path)) continue;
      if (!header.empty()) {
        auto value = parsed->Header(header);
        if (!value || (!header_value.empty() && *value != header_value)) continue;
      }
      if (!Draw(t.toxicity)) continue;
      switch (t.type) {
        case ToxicType::kHttpDelay:
          delay_ms += NumberAttribute(t, "delay");
          break;
        case ToxicType::kHttpDrop:
          if (!reply) drop = true;
          break;
        case ToxicType::kHttpStatus:
          if (!drop && !reply) {
            reply.emplace(static_cast<int>(NumberAttribute(t, "status")),
                          StringAttribute(t, "body"));
          }
          break;
        case ToxicType::kHttpTruncate:
          truncate = NumberAttribute(t, "bytes");
          break;
        default:
          break;
      }
    }
    co_await Sleep(milliseconds(delay_ms));
    if (closed_) co_return false;
    if (drop) {
      Close();
      co_return false;
    }
    request_body_left_ = parsed->content_length;
    skip_request_body_ = reply.has_value();
    if (reply) {
      std::string out = fmt::format(
          "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
          "X-Faultline-Toxic: http_status\r\n\r\n{}",
          reply->first, ReasonPhrase(reply->first), reply->second.size(), reply->second);
      if (!co_await Write(client_, out)) co_return false;
      continue;
    }
    truncate_ = truncate;
    // The head and the part of the body that came with it, in one write (they lie side by side
    // in the read buffer unless the head came in pieces).
    std::size_t body_now = 0;
    if (in_place) {
      body_now = static_cast<std::size_t>(
          std::min<std::int64_t>(request_body_left_, static_cast<std::int64_t>(data.size())));
    }
    if (!co_await Forward(ToxicStream::kUpstream,
                          std::string_view(head.data(), head.size() + body_now))) {
      co_return false;
    }
    data.remove_prefix(body_now);
    request_body_left_ -= static_cast<std::int64_t>(body_now);
  }
  co_return true;
}

asio::awaitable<bool> Link::ScanReply(std::string_view data) {
  std::string carry;
  while (!data.empty()) {
    if (reply_keep_ >= 0) {
      const auto take = static_cast<std::size_t>(
          std::min<std::int64_t>(reply_keep_, static_cast<std::int64_t>(data.size())));
      if (take > 0 && !co_await Forward(ToxicStream::kDownstream, data.substr(0, take))) {
        co_return false;
      }
      reply_keep_ -= static_cast<std::int64_t>(take);
      if (reply_keep_ == 0) {
        Close();
        co_return false;
      }
      co_return true;
    }
    if (!truncate_) co_return co_await Forward(ToxicStream::kDownstream, data);
    const std::size_t from = reply_head_.size() >= 3 ? reply_head_.size() - 3 : 0;
    reply_head_.append(data);
    data = {};
    auto end = FindHeadEnd(reply_head_, from);
    if (!end && reply_head_.size() <= kMaxHead) co_return true;
    std::string head = std::move(reply_head_);
    reply_head_.clear();
    if (!end) {
      truncate_.reset();
      co_return co_await Forward(ToxicStream::kDownstream, head);
    }
    carry = head.substr(*end);
    head.resize(*end);
    data = carry;
    auto parsed = ParseResponseHead(head);
    const std::int64_t keep = *truncate_;
    truncate_.reset();
    if (!co_await Forward(ToxicStream::kDownstream, head)) co_return false;
    if (parsed && !parsed->chunked && parsed->content_length <= keep) continue;  // nothing to cut
    if (keep == 0) {
      Close();
      co_return false;
    }
    reply_keep_ = keep;
  }
  co_return true;
}

}  // namespace faultline::nemesis::internal
