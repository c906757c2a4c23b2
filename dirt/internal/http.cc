#include "dirt/internal/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace faultline::dirt::internal {
namespace {

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

Status WaitFd(int fd, short events, Clock::time_point deadline, std::string_view what) {
  for (;;) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int left = MsLeft(deadline);
    if (left == 0) return Error(ErrorCode::kDeadlineExceeded, fmt::format("{}: timed out", what));
    int r = ::poll(&p, 1, left);
    if (r > 0) return OkStatus();
    if (r < 0 && errno != EINTR) {
      return Error(ErrorCode::kUnavailable, fmt::format("{}: {}", what, std::strerror(errno)));
    }
  }
}

}  // namespace

HttpConnection::HttpConnection(std::string base_url) : base_url_(std::move(base_url)) {
  std::string_view rest = base_url_;
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  size_t colon = rest.find(':');
  host_ = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    port_ = 0;
    for (char c : rest.substr(colon + 1)) {
      if (c < '0' || c > '9') break;
      port_ = port_ * 10 + (c - '0');
    }
  }
}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status HttpConnection::Connect(Clock::time_point deadline) {
  Close();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("http: {}: not an IPv4 address", base_url_));
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Error(ErrorCode::kInternal, fmt::format("http: socket: {}", errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      std::string m = fmt::format("http: connect {}: {}", base_url_, std::strerror(errno));
      Close();
      return Error(ErrorCode::kUnavailable, m);
    }
    Status st = WaitFd(fd_, POLLOUT, deadline, fmt::format("http: connect {}", base_url_));
    if (!st) {
      Close();
      return st;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Close();
      return Error(ErrorCode::kUnavailable,
                   fmt::format("http: connect {}: {}", base_url_, std::strerror(err)));
    }
  }
  return OkStatus();
}

Result<HttpResponse> HttpConnection::Request(std::string_view method, std::string_view path,
                                             std::string_view body,
                                             std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  bool reused = fd_ >= 0;
  auto r = Once(method, path, body, deadline);
  if (!r && reused && r.error().code() == ErrorCode::kUnavailable && MsLeft(deadline) > 0) {
    r = Once(method, path, body, deadline);  // the kept-alive connection had been closed
  }
  if (!r) Close();
  return r;
}

Result<HttpResponse> HttpConnection::Once(std::string_view method, std::string_view path,
                                          std::string_view body, Clock::time_point deadline) {
  if (fd_ < 0) FAULTLINE_RETURN_IF_ERROR(Connect(deadline));
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\n", method, path, host_, port_);
  if (method != "GET") {
    req += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  req += "\r\n";
  req.append(body);
  size_t sent = 0;
  const std::string what = fmt::format("http: {} {}{}", method, base_url_, path);
  while (sent < req.size()) {
    ssize_t n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      FAULTLINE_RETURN_IF_ERROR(WaitFd(fd_, POLLOUT, deadline, what));
      continue;
    }
    return Error(ErrorCode::kUnavailable, fmt::format("{}: send: {}", what, std::strerror(errno)));
  }
  std::string in;
  HttpResponse resp;
  size_t header_end = std::string::npos;
  std::int64_t content_length = -1;
  bool chunked = false;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string head = in.substr(0, header_end);
        if (head.size() < 12 || !head.starts_with("HTTP/1.")) {
          return Error(ErrorCode::kUnavailable, what + ": malformed response");
        }
        resp.status = std::atoi(head.c_str() + 9);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t cl = head.find("\r\ncontent-length:");
        if (cl != std::string::npos) content_length = std::atoll(head.c_str() + cl + 17);
        chunked = head.find("transfer-encoding: chunked") != std::string::npos;
        header_end += 4;
      }
    }
    if (header_end != std::string::npos) {
      if (content_length >= 0 && in.size() >= header_end + static_cast<size_t>(content_length)) {
        resp.body = in.substr(header_end, static_cast<size_t>(content_length));
        return resp;
      }
      if (chunked) {
        // Decode when the terminating zero-length chunk has arrived.
        std::string out;
        size_t pos = header_end;
        bool done = false;
        for (;;) {
          size_t eol = in.find("\r\n", pos);
          if (eol == std::string::npos) break;
          size_t len = std::strtoul(in.c_str() + pos, nullptr, 16);
          if (len == 0) {
            done = in.find("\r\n", eol + 2) != std::string::npos;
            break;
          }
          if (in.size() < eol + 2 + len + 2) break;
          out.append(in, eol + 2, len);
          pos = eol + 2 + len + 2;
        }
        if (done) {
          resp.body = std::move(out);
          return resp;
        }
      }
      if (content_length < 0 && !chunked && resp.status == 204) return resp;
    }
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      if (header_end != std::string::npos && content_length < 0 && !chunked) {
        resp.body = in.substr(header_end);
        Close();
        return resp;
      }
      return Error(ErrorCode::kUnavailable, what + ": connection closed");
    }
    if (errno == EAGAIN || errno == EINTR) {
      FAULTLINE_RETURN_IF_ERROR(WaitFd(fd_, POLLIN, deadline, what));
      continue;
    }
    return Error(ErrorCode::kUnavailable, fmt::format("{}: recv: {}", what, std::strerror(errno)));
  }
}

}  // namespace faultline::dirt::internal
