// The proxy and its toxics against loopback servers (no root), the HTTP parsing it relies on, and
// the control API's JSON through HandleControlRequest.
#include "nemesis/proxy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "nemesis/internal/http_head.h"
#include "nemesis/proxy_api.h"
#include "nemesis/testing/loopback_http.h"

namespace faultline::nemesis {
namespace {

using std::chrono::milliseconds;
using testing::BlockingClient;
using testing::LoopbackServer;
namespace asio = boost::asio;

std::uint16_t PortOf(const std::string& listen) {
  return static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

Toxic MakeToxic(ToxicType type, ToxicStream stream, ToxicAttributes attributes,
                double toxicity = 1.0) {
  return Toxic{.name = "",
               .type = type,
               .stream = stream,
               .toxicity = toxicity,
               .attributes = std::move(attributes)};
}

class ProxyTest : public ::testing::Test {
 protected:
  // A proxy named `name` in front of `upstream`; returns the port it listens on.
  std::uint16_t AddProxy(const std::string& name, const std::string& upstream) {
    auto info = proxies_.CreateProxy(
        ProxyConfig{.name = name, .listen = "127.0.0.1:0", .upstream = upstream, .enabled = true});
    EXPECT_TRUE(info.has_value()) << (info ? "" : info.error().message());
    return info ? PortOf(info->config.listen) : 0;
  }

  LoopbackServer http_{LoopbackServer::Mode::kHttp};
  LoopbackServer echo_{LoopbackServer::Mode::kEcho};
  ProxyServer proxies_{ProxyServer::Options{.seed = 1}};
};

TEST(HttpHeadTest, ParsesRequestsAndResponses) {
  auto head = internal::ParseRequestHead(
      "POST /v3/kv/put?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Fault: on\r\n\r\n");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->method, "POST");
  EXPECT_EQ(head->path, "/v3/kv/put");
  EXPECT_EQ(head->content_length, 12);
  EXPECT_EQ(head->Header("x-fault").value_or(""), "on");
  EXPECT_FALSE(internal::ParseRequestHead("\x16\x03\x01 binary\r\n\r\n").has_value());
  EXPECT_FALSE(internal::ParseRequestHead("GET / SPDY/3\r\n\r\n").has_value());
  auto reply = internal::ParseResponseHead("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\n");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(internal::FindHeadEnd("GET / HTTP/1.1\r\n\r\nrest"), 18u);
  EXPECT_FALSE(internal::FindHeadEnd("GET / HTTP/1.1\r\n").has_value());
  EXPECT_TRUE(internal::MayStartRequest("GE"));
  EXPECT_TRUE(internal::MayStartRequest("GET /v3/kv"));
  EXPECT_TRUE(internal::MayStartRequest("GET /v3/kv HTTP/1.1\r\nHo"));
  EXPECT_FALSE(internal::MayStartRequest("ping"));
  EXPECT_FALSE(internal::MayStartRequest("PRI * HTTP/2.0\r\n"));
  EXPECT_FALSE(internal::MayStartRequest("GET /\x01"));
}

TEST(HttpHeadTest, GlobMatches) {
  EXPECT_TRUE(internal::GlobMatch("", "/anything"));
  EXPECT_TRUE(internal::GlobMatch("/v3/kv/*", "/v3/kv/range"));
  EXPECT_TRUE(internal::GlobMatch("/v3/*/range", "/v3/kv/range"));
  EXPECT_TRUE(internal::GlobMatch("/a?c", "/abc"));
  EXPECT_FALSE(internal::GlobMatch("/a?c", "/abbc"));
  EXPECT_FALSE(internal::GlobMatch("/v3/kv/*", "/v3/lease/grant"));
  EXPECT_FALSE(internal::GlobMatch("/x", "/x/y"));
}

TEST(ToxicTest, NormalizeFillsDefaultsAndNamesBadFields) {
  auto toxic = NormalizeToxic(
      MakeToxic(ToxicType::kLatency, ToxicStream::kUpstream, {{"latency", std::int64_t{5}}}));
  ASSERT_TRUE(toxic.has_value());
  EXPECT_EQ(toxic->name, "latency_upstream");
  EXPECT_EQ(NumberAttribute(*toxic, "jitter"), 0);
  EXPECT_EQ(NumberAttribute(*toxic, "latency"), 5);

  auto unknown = NormalizeToxic(
      MakeToxic(ToxicType::kLatency, ToxicStream::kUpstream, {{"latncy", std::int64_t{5}}}));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("attributes.latncy"), std::string::npos);
  auto wrong_kind = NormalizeToxic(
      MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream, {{"path", std::int64_t{5}}}));
  ASSERT_FALSE(wrong_kind.has_value());
  EXPECT_NE(wrong_kind.error().message().find("attributes.path: must be a string"),
            std::string::npos);
  auto status = NormalizeToxic(
      MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream, {{"status", std::int64_t{42}}}));
  EXPECT_FALSE(status.has_value());
  auto toxicity = NormalizeToxic(MakeToxic(ToxicType::kLatency, ToxicStream::kUpstream, {}, 1.5));
  ASSERT_FALSE(toxicity.has_value());
  EXPECT_NE(toxicity.error().message().find("toxicity"), std::string::npos);
  EXPECT_EQ(NumberAttribute(
                *NormalizeToxic(MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream, {})),
                "status"),
            503);
}

TEST_F(ProxyTest, ForwardsKeepAliveRequestsWithoutToxics) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 20; ++i) {
    auto reply = client.Request("GET", "/k" + std::to_string(i));
    ASSERT_EQ(reply.error, "");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "ok:/k" + std::to_string(i));
  }
  auto echo = client.Request("POST", "/echo", "", std::string(40000, 'b'));
  EXPECT_EQ(echo.body, std::string(40000, 'b'));
}

// Replies far larger than the socket buffers: the proxy's writes then stop half-way and finish
// asynchronously, and the bytes must still arrive whole and in order.
TEST_F(ProxyTest, ForwardsBodiesLargerThanTheSocketBuffersInOrder) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(client.connected());
  std::string body(8 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  auto echo = client.Request("POST", "/echo", "", body);
  ASSERT_EQ(echo.error, "");
  EXPECT_TRUE(echo.body == body) << "reply of " << echo.body.size() << " bytes differs";
  // A client that reads only after a pause: the proxy's socket buffers fill first.
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  asio::write(client.socket(), asio::buffer(request));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string expected =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string got;
  std::vector<char> buffer(1 << 16);
  boost::system::error_code ec;
  while (got.size() < expected.size() && !ec) {
    got.append(buffer.data(), client.socket().read_some(asio::buffer(buffer), ec));
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(got == expected) << "slow read: " << got.size() << " bytes, not as sent";
  EXPECT_EQ(client.Request("GET", "/after").body, "ok:/after");
}

TEST_F(ProxyTest, HttpStatusRepliesInsteadOfForwardingAndLeavesWhenRemoved) {
  BlockingClient client(AddProxy("web", http_.address()));
  EXPECT_EQ(client.Request("GET", "/a").status, 200);
  auto added = proxies_.AddToxic(
      "web", MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream,
                       {{"status", std::int64_t{503}}, {"body", std::string("injected")}}));
  ASSERT_TRUE(added.has_value());
  // The same keep-alive connection sees the toxic from its next request on.
  auto reply = client.Request("POST", "/echo", "", "body skipped by the proxy");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "injected");
  ASSERT_TRUE(proxies_.RemoveToxic("web", added->name).has_value());
  reply = client.Request("GET", "/b");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok:/b");
}

TEST_F(ProxyTest, HttpToxicsAreScopedByMethodPathAndHeader) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("web", MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream,
                                             {{"status", std::int64_t{500}},
                                              {"method", std::string("GET")},
                                              {"path", std::string("/v3/kv/*")},
                                              {"header", std::string("X-Fault")},
                                              {"header_value", std::string("on")}}))
                  .has_value());
  EXPECT_EQ(client.Request("GET", "/v3/kv/range", "X-Fault: on\r\n").status, 500);
  EXPECT_EQ(client.Request("GET", "/v3/kv/range", "X-Fault: off\r\n").status, 200);
  EXPECT_EQ(client.Request("GET", "/v3/kv/range").status, 200);
  EXPECT_EQ(client.Request("POST", "/v3/kv/range", "X-Fault: on\r\n").status, 200);
  EXPECT_EQ(client.Request("GET", "/v3/lease", "X-Fault: on\r\n").status, 200);
}

// Toxicity of HTTP toxics is the share of requests; the draws replay with the seed.
std::vector<int> StatusPattern(std::uint64_t seed, double toxicity, int requests) {
  LoopbackServer http(LoopbackServer::Mode::kHttp);
  ProxyServer proxies(ProxyServer::Options{.seed = seed});
  auto info = proxies.CreateProxy(
      ProxyConfig{.name = "p", .listen = "127.0.0.1:0", .upstream = http.address()});
  EXPECT_TRUE(info.has_value());
  EXPECT_TRUE(
      proxies
          .AddToxic("p", MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream, {}, toxicity))
          .has_value());
  BlockingClient client(PortOf(info->config.listen));
  std::vector<int> out;
  for (int i = 0; i < requests; ++i) out.push_back(client.Request("GET", "/").status);
  return out;
}

TEST(ProxyShareTest, HttpToxicityIsTheShareOfRequestsAndReplaysWithTheSeed) {
  const auto first = StatusPattern(7, 0.3, 600);
  const auto count = std::count(first.begin(), first.end(), 503);
  EXPECT_GT(count, 600 * 0.3 - 60) << "seed 7";
  EXPECT_LT(count, 600 * 0.3 + 60) << "seed 7";
  EXPECT_EQ(std::count(first.begin(), first.end(), 200) + count, 600);
  EXPECT_EQ(StatusPattern(7, 0.3, 600), first);
  EXPECT_NE(StatusPattern(8, 0.3, 600), first);
  const auto none = StatusPattern(7, 0.0, 50);
  EXPECT_EQ(std::count(none.begin(), none.end(), 200), 50);
}

TEST_F(ProxyTest, LatencyDelaysEachReplyAndJitterStaysInBounds) {
  BlockingClient client(AddProxy("web", http_.address()));
  auto before = client.Request("GET", "/");
  EXPECT_LT(before.elapsed, milliseconds(50));
  ASSERT_TRUE(proxies_
                  .AddToxic("web", MakeToxic(ToxicType::kLatency, ToxicStream::kDownstream,
                                             {{"latency", std::int64_t{100}},
                                              {"jitter", std::int64_t{20}}}))
                  .has_value());
  for (int i = 0; i < 5; ++i) {
    auto reply = client.Request("GET", "/");
    EXPECT_EQ(reply.status, 200);
    EXPECT_GE(reply.elapsed, milliseconds(80));
    EXPECT_LT(reply.elapsed, milliseconds(400));
  }
}

TEST_F(ProxyTest, HttpDelayDelaysTheRequest) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("web", MakeToxic(ToxicType::kHttpDelay, ToxicStream::kUpstream,
                                             {{"delay", std::int64_t{150}},
                                              {"path", std::string("/slow")}}))
                  .has_value());
  auto slow = client.Request("GET", "/slow");
  EXPECT_EQ(slow.status, 200);
  EXPECT_GE(slow.elapsed, milliseconds(150));
  EXPECT_LT(client.Request("GET", "/fast").elapsed, milliseconds(100));
}

TEST_F(ProxyTest, HttpDropClosesWithoutAReply) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(
      proxies_.AddToxic("web", MakeToxic(ToxicType::kHttpDrop, ToxicStream::kDownstream, {}))
          .has_value());
  auto reply = client.Request("GET", "/");
  EXPECT_EQ(reply.status, 0);
  EXPECT_NE(reply.error, "");
}

TEST_F(ProxyTest, HttpTruncateKeepsTheFirstBodyBytes) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(
      proxies_
          .AddToxic("web", MakeToxic(ToxicType::kHttpTruncate, ToxicStream::kDownstream,
                                     {{"bytes", std::int64_t{10}}, {"path", std::string("/big")}}))
          .has_value());
  EXPECT_EQ(client.Request("GET", "/small").body, "ok:/small");  // shorter than 10: untouched
  auto reply = client.Request("GET", "/big");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, std::string(10, 'x'));
  EXPECT_NE(reply.error, "");
}

// Sends `data` and reads until EOF, an error or `want` bytes; returns what came back.
std::string EchoRound(BlockingClient& client, const std::string& data, std::size_t want,
                      std::string* error = nullptr) {
  boost::system::error_code ec;
  boost::asio::write(client.socket(), boost::asio::buffer(data), ec);
  std::string got;
  char buffer[65536];
  while (got.size() < want) {
    std::size_t n = client.socket().read_some(boost::asio::buffer(buffer), ec);
    if (ec) {
      if (error != nullptr) *error = ec.message();
      break;
    }
    got.append(buffer, n);
  }
  return got;
}

TEST_F(ProxyTest, LimitDataClosesAfterTheBytes) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kLimitData, ToxicStream::kDownstream,
                                              {{"bytes", std::int64_t{5}}}))
                  .has_value());
  std::string error;
  EXPECT_EQ(EchoRound(client, "0123456789abcdefghij", 20, &error), "01234");
  EXPECT_NE(error, "");
}

TEST_F(ProxyTest, TimeoutDropsDataThenCloses) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  EXPECT_EQ(EchoRound(client, "ping", 4), "ping");
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kTimeout, ToxicStream::kUpstream,
                                              {{"timeout", std::int64_t{200}}}))
                  .has_value());
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  EXPECT_EQ(EchoRound(client, "lost", 4, &error), "");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_NE(error, "");
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, milliseconds(2000));
}

TEST_F(ProxyTest, ResetPeerSendsRst) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kResetPeer, ToxicStream::kDownstream,
                                              {{"timeout", std::int64_t{50}}}))
                  .has_value());
  std::this_thread::sleep_for(milliseconds(200));
  // Read without writing first: a send on the reset socket would consume the pending reset.
  std::string error;
  EchoRound(client, "", 1, &error);
  EXPECT_EQ(error,
            boost::asio::error::make_error_code(boost::asio::error::connection_reset).message());
}

TEST_F(ProxyTest, BandwidthLimitsTheRate) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kBandwidth, ToxicStream::kDownstream,
                                              {{"rate", std::int64_t{200}}}))
                  .has_value());
  const auto start = std::chrono::steady_clock::now();
  // 60 kB at 200 KB/s: at least ~0.3 s (the last chunk's pause may come after it arrived).
  EXPECT_EQ(EchoRound(client, std::string(60000, 'z'), 60000).size(), 60000u);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(200));
  EXPECT_LT(took, milliseconds(3000));
}

TEST_F(ProxyTest, SlicerSplitsChunksWithDelays) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kSlicer, ToxicStream::kDownstream,
                                              {{"average_size", std::int64_t{10}},
                                               {"size_variation", std::int64_t{5}},
                                               {"delay", std::int64_t{2000}}}))
                  .has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(EchoRound(client, std::string(500, 's'), 500), std::string(500, 's'));
  // At least 500 / 15 slices with 2 ms between them.
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(60));
}

TEST_F(ProxyTest, SlowCloseHoldsTheCloseBack) {
  BlockingClient client(AddProxy("web", http_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("web", MakeToxic(ToxicType::kSlowClose, ToxicStream::kDownstream,
                                             {{"delay", std::int64_t{300}}}))
                  .has_value());
  EXPECT_EQ(client.Request("GET", "/close").body, "bye");
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  EchoRound(client, "", 1, &error);
  EXPECT_NE(error, "");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(250));
}

TEST_F(ProxyTest, ToxicityZeroSparesTcpConnections) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kLimitData, ToxicStream::kDownstream,
                                              {{"bytes", std::int64_t{1}}}, 0.0))
                  .has_value());
  EXPECT_EQ(EchoRound(client, "untouched", 9), "untouched");
}

TEST_F(ProxyTest, TcpToxicityIsTheShareOfConnections) {
  const std::uint16_t port = AddProxy("echo", echo_.address());
  ASSERT_TRUE(proxies_
                  .AddToxic("echo", MakeToxic(ToxicType::kLimitData, ToxicStream::kDownstream,
                                              {{"bytes", std::int64_t{2}}}, 0.4))
                  .has_value());
  int cut = 0;
  for (int i = 0; i < 200; ++i) {
    BlockingClient client(port);
    const std::string got = EchoRound(client, "abcd", 4);
    if (got == "ab") {
      ++cut;
    } else {
      EXPECT_EQ(got, "abcd");
    }
    // Every chunk of a connection meets the same draw.
    if (got == "abcd") {
      EXPECT_EQ(EchoRound(client, "efgh", 4), "efgh");
    }
  }
  EXPECT_GT(cut, 200 * 0.4 - 30) << "seed 1";
  EXPECT_LT(cut, 200 * 0.4 + 30) << "seed 1";
}

TEST_F(ProxyTest, DisabledProxyRefusesAndResetEnablesAndCleans) {
  const std::uint16_t port = AddProxy("web", http_.address());
  ASSERT_TRUE(
      proxies_.AddToxic("web", MakeToxic(ToxicType::kHttpStatus, ToxicStream::kDownstream, {}))
          .has_value());
  ASSERT_TRUE(
      proxies_.UpdateProxy("web", ProxyUpdate{.listen = {}, .upstream = {}, .enabled = false})
          .has_value());
  EXPECT_FALSE(BlockingClient(port).connected());
  ASSERT_TRUE(proxies_.Reset().has_value());
  auto info = proxies_.GetProxy("web");
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->config.enabled);
  EXPECT_TRUE(info->toxics.empty());
  EXPECT_EQ(PortOf(info->config.listen), port);
  BlockingClient client(port);
  EXPECT_EQ(client.Request("GET", "/").status, 200);
}

TEST_F(ProxyTest, DeleteClosesOpenConnections) {
  BlockingClient client(AddProxy("echo", echo_.address()));
  EXPECT_EQ(EchoRound(client, "a", 1), "a");
  ASSERT_TRUE(proxies_.DeleteProxy("echo").has_value());
  std::string error;
  EchoRound(client, "b", 1, &error);
  EXPECT_NE(error, "");
  EXPECT_EQ(proxies_.DeleteProxy("echo").error().code(), ErrorCode::kNotFound);
}

// The control API's shapes and status codes, without sockets.
TEST_F(ProxyTest, ControlApiSpeaksToxiproxyJson) {
  using nlohmann::json;
  auto call = [&](const char* method, const std::string& target, const std::string& body = "") {
    return HandleControlRequest(proxies_, method, target, body);
  };
  auto created =
      call("POST", "/proxies",
           json{{"name", "web"}, {"listen", "127.0.0.1:0"}, {"upstream", http_.address()}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  json proxy = json::parse(created.body);
  EXPECT_EQ(proxy["name"], "web");
  EXPECT_EQ(proxy["enabled"], true);
  EXPECT_EQ(proxy["upstream"], http_.address());
  EXPECT_TRUE(proxy["toxics"].is_array());
  EXPECT_EQ(
      call("POST", "/proxies", json{{"name", "web"}, {"upstream", "1.2.3.4:1"}}.dump()).status,
      409);
  auto missing = call("POST", "/proxies", json{{"name", "x"}}.dump());
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("upstream"), std::string::npos);
  EXPECT_EQ(call("GET", "/proxies/nope").status, 404);
  EXPECT_EQ(call("POST", "/proxies", "{not json").status, 400);

  auto toxic = call("POST", "/proxies/web/toxics",
                    json{{"type", "latency"}, {"attributes", {{"latency", 30}}}}.dump());
  ASSERT_EQ(toxic.status, 200) << toxic.body;
  json t = json::parse(toxic.body);
  EXPECT_EQ(t["name"], "latency_downstream");
  EXPECT_EQ(t["stream"], "downstream");
  EXPECT_EQ(t["toxicity"], 1.0);
  EXPECT_EQ(t["attributes"]["latency"], 30);
  EXPECT_EQ(t["attributes"]["jitter"], 0);
  EXPECT_EQ(call("POST", "/proxies/web/toxics", json{{"type", "latency"}}.dump()).status, 409);
  auto bad_type = call("POST", "/proxies/web/toxics", json{{"type", "lag"}}.dump());
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_NE(bad_type.body.find("type"), std::string::npos);
  auto bad_attribute = call("POST", "/proxies/web/toxics",
                            json{{"type", "bandwidth"}, {"attributes", {{"rate", "x"}}}}.dump());
  EXPECT_EQ(bad_attribute.status, 400);
  EXPECT_NE(bad_attribute.body.find("attributes.rate"), std::string::npos);
  EXPECT_EQ(call("POST", "/proxies/nope/toxics", json{{"type", "latency"}}.dump()).status, 404);

  auto updated = call("POST", "/proxies/web/toxics/latency_downstream",
                      json{{"attributes", {{"latency", 40}}}, {"toxicity", 0.5}}.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(json::parse(updated.body)["attributes"]["latency"], 40);
  EXPECT_EQ(json::parse(updated.body)["toxicity"], 0.5);
  EXPECT_EQ(json::parse(call("GET", "/proxies/web/toxics").body).size(), 1u);
  EXPECT_EQ(json::parse(call("GET", "/proxies").body)["web"]["toxics"].size(), 1u);
  EXPECT_EQ(call("DELETE", "/proxies/web/toxics/latency_downstream").status, 204);
  EXPECT_EQ(call("DELETE", "/proxies/web/toxics/latency_downstream").status, 404);
  auto error = json::parse(call("GET", "/proxies/web/toxics/latency_downstream").body);
  EXPECT_EQ(error["status"], 404);
  EXPECT_TRUE(error["error"].is_string());

  EXPECT_EQ(call("POST", "/proxies/web", json{{"enabled", false}}.dump()).status, 200);
  EXPECT_EQ(json::parse(call("GET", "/proxies/web").body)["enabled"], false);
  EXPECT_EQ(call("POST", "/reset").status, 204);
  EXPECT_EQ(json::parse(call("GET", "/proxies/web").body)["enabled"], true);
  EXPECT_EQ(json::parse(call("GET", "/version").body)["version"].is_string(), true);
  auto populated = call("POST", "/populate",
                        json::array({json{{"name", "web"}, {"upstream", http_.address()}},
                                     json{{"name", "two"}, {"upstream", http_.address()}}})
                            .dump());
  EXPECT_EQ(populated.status, 201);
  EXPECT_EQ(json::parse(populated.body)["proxies"].size(), 2u);
  EXPECT_EQ(call("DELETE", "/proxies/two").status, 204);
  EXPECT_EQ(call("GET", "/proxies/two").status, 404);
}

TEST(ProxyConfigTest, ParsesToxiproxyConfigFiles) {
  auto configs = ParseProxyConfigs(
      R"([{"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:2379"},
          {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:2379", "enabled": false}])");
  ASSERT_TRUE(configs.has_value());
  ASSERT_EQ(configs->size(), 2u);
  EXPECT_FALSE((*configs)[1].enabled);
  auto bad = ParseProxyConfigs(R"([{"name": "a", "upstream": 5}])");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("proxies[0].upstream"), std::string::npos);
}

}  // namespace
}  // namespace faultline::nemesis
