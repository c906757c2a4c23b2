// Request bodies, reply parsing and option checks of the etcd client, without a server.
#include "client/internal/etcd_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/etcd.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using history::Process;

TEST(EtcdJsonTest, PrefixEndIncrementsTheLastByte) {
  EXPECT_EQ(internal::PrefixEnd("a/s/"), "a/s0");
  EXPECT_EQ(internal::PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(internal::PrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdJsonTest, RequestBodies) {
  EXPECT_EQ(internal::PutBody("foo", "bar"), R"({"key":"Zm9v","value":"YmFy"})");
  EXPECT_EQ(internal::RangeBody("foo", "", false), R"({"key":"Zm9v"})");
  EXPECT_EQ(internal::RangeBody("foo", "fop", true),
            R"({"key":"Zm9v","range_end":"Zm9w","serializable":true})");
  EXPECT_EQ(internal::CasBody("foo", std::string("bar"), "baz"),
            R"({"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE","value":"YmFy"}],)"
            R"("success":[{"requestPut":{"key":"Zm9v","value":"YmF6"}}]})");
  EXPECT_EQ(internal::CasBody("a", std::nullopt, "1"),
            R"({"compare":[{"key":"YQ==","result":"EQUAL","target":"VERSION","version":"0"}],)"
            R"("success":[{"requestPut":{"key":"YQ==","value":"MQ=="}}]})");
  EXPECT_EQ(internal::ModCasBody("a", 0, "1"),
            R"({"compare":[{"key":"YQ==","mod_revision":"0","result":"EQUAL","target":"MOD"}],)"
            R"("success":[{"requestPut":{"key":"YQ==","value":"MQ=="}}]})");
  EXPECT_EQ(internal::LeaseGrantBody(5), R"({"TTL":"5"})");
  EXPECT_EQ(internal::LockBody("lock", 2324035663762894853),
            R"({"lease":"2324035663762894853","name":"bG9jaw=="})");
  EXPECT_EQ(internal::UnlockBody("lock/1"), R"({"key":"bG9jay8x"})");
  EXPECT_EQ(internal::LeaseRevokeBody(7), R"({"ID":"7"})");
}

TEST(EtcdJsonTest, ParsesLeaseAndLockReplies) {
  auto grant = internal::ParseReply(R"({"header":{},"ID":"7853893055258470416","TTL":"5"})");
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->lease_id, 7853893055258470416);
  auto lock = internal::ParseReply(R"({"header":{"revision":"2"},"key":"bG9jay8x"})");
  ASSERT_TRUE(lock);
  EXPECT_EQ(lock->lock_key, "lock/1");
}

// Keepalive replies as etcd 3.4.23's gateway sends them (captured with curl): a live lease, and
// the same lease after it expired (no TTL: proto3 omits the 0).
TEST(EtcdJsonTest, ParsesKeepAliveStreamReplies) {
  EXPECT_EQ(internal::LeaseKeepAliveBody(4111120393399395589), R"({"ID":"4111120393399395589"})");
  auto alive = internal::ParseReply(
      R"({"result":{"header":{"cluster_id":"15118495548433857066","member_id":)"
      R"("13668033151171901709","revision":"1","raft_term":"2"},"ID":"4111120393399395589",)"
      R"("TTL":"2"}})");
  ASSERT_TRUE(alive) << alive.error().message();
  EXPECT_TRUE(alive->has_header);
  EXPECT_EQ(alive->header.member_id, 13668033151171901709u);
  EXPECT_EQ(alive->lease_id, 4111120393399395589);
  EXPECT_EQ(alive->ttl, 2);
  auto gone =
      internal::ParseReply(R"({"result":{"header":{"revision":"1"},"ID":"4111120393399395589"}})");
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_TRUE(gone->has_header);
  EXPECT_EQ(gone->ttl, 0);
}

TEST(EtcdJsonTest, ParsesHeaderWith64BitStrings) {
  auto r = internal::ParseReply(
      R"({"header":{"cluster_id":"12916103059400352701","member_id":"18446744073709551615",)"
      R"("revision":"2","raft_term":"3"}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->has_header);
  EXPECT_EQ(r->header.cluster_id, 12916103059400352701ULL);
  EXPECT_EQ(r->header.member_id, 18446744073709551615ULL);  // above 2^53: no double rounding
  EXPECT_EQ(r->header.revision, 2);
  EXPECT_EQ(r->header.raft_term, 3u);
  EXPECT_FALSE(r->succeeded);
  EXPECT_TRUE(r->kvs.empty());
  EXPECT_FALSE(r->error);
}

TEST(EtcdJsonTest, ParsesRangeWithAndWithoutKvs) {
  auto hit = internal::ParseReply(
      R"({"header":{"revision":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",)"
      R"("mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"})");
  ASSERT_TRUE(hit) << hit.error().message();
  ASSERT_EQ(hit->kvs.size(), 1u);
  EXPECT_EQ(hit->kvs[0].key, "foo");
  EXPECT_EQ(hit->kvs[0].value, "bar");
  EXPECT_EQ(hit->kvs[0].version, 1);
  EXPECT_EQ(hit->count, 1);
  // A missing key: proto3 omits kvs and count.
  auto miss = internal::ParseReply(R"({"header":{"revision":"2"}})");
  ASSERT_TRUE(miss);
  EXPECT_TRUE(miss->kvs.empty());
  EXPECT_EQ(miss->count, 0);
  // An empty value is omitted too.
  auto empty = internal::ParseReply(R"({"header":{},"kvs":[{"key":"Zm9v"}]})");
  ASSERT_TRUE(empty);
  ASSERT_EQ(empty->kvs.size(), 1u);
  EXPECT_EQ(empty->kvs[0].value, "");
}

TEST(EtcdJsonTest, TxnWithoutSucceededIsFalse) {
  auto ok = internal::ParseReply(
      R"({"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{}}]})");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->succeeded);
  auto failed = internal::ParseReply(R"({"header":{"revision":"5","raft_term":"2"}})");
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->header.revision, 5);
}

TEST(EtcdJsonTest, GatewayErrorsAndMalformedReplies) {
  auto err = internal::ParseReply(
      R"({"error":"etcdserver: request timed out","message":"etcdserver: request timed out",)"
      R"("code":14})");
  ASSERT_TRUE(err);
  ASSERT_TRUE(err->error);
  EXPECT_EQ(*err->error, "etcdserver: request timed out");
  EXPECT_EQ(err->code, 14);
  EXPECT_FALSE(internal::ParseReply("{\"header\":"));
  EXPECT_FALSE(internal::ParseReply("[1]"));
  EXPECT_FALSE(internal::ParseReply(R"({"header":{"revision":"x"}})"));
  EXPECT_FALSE(internal::ParseReply(R"({"header":{"member_id":"-1"}})"));
  EXPECT_FALSE(internal::ParseReply(R"({"succeeded":"yes"})"));
  EXPECT_FALSE(internal::ParseReply(R"({"kvs":[{"value":"!!"}]})"));
}

TEST(EtcdJsonTest, ParsesStatus) {
  auto s = internal::ParseStatus(
      R"({"header":{"member_id":"5549513513309302014","revision":"7"},"version":"3.4.23",)"
      R"("dbSize":"49152","leader":"6815902100979100822","raftIndex":"371","raftTerm":"2"})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->header.member_id, 5549513513309302014ULL);
  EXPECT_EQ(s->leader, 6815902100979100822ULL);
  EXPECT_EQ(s->raft_index, 371u);
  EXPECT_EQ(s->raft_term, 2u);
  EXPECT_EQ(s->version, "3.4.23");
}

TEST(EtcdOptionsTest, ParsesEndpoints) {
  auto e = ParseEtcdEndpoint("n2=198.18.0.2:2379");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->node, "n2");
  EXPECT_EQ(e->host, "198.18.0.2");
  EXPECT_EQ(e->port, 2379);
  auto bare = ParseEtcdEndpoint("127.0.0.1:1234");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->node, "127.0.0.1:1234");
  auto v6 = ParseEtcdEndpoint("n3=[::1]:2379");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseEtcdEndpoint("127.0.0.1"));
  EXPECT_FALSE(ParseEtcdEndpoint("n1=127.0.0.1:0"));
  EXPECT_FALSE(ParseEtcdEndpoint("n1=127.0.0.1:70000"));
}

TEST(EtcdOptionsTest, FactoryRejectsBadOptions) {
  EXPECT_FALSE(MakeEtcdClientFactory(EtcdClientOptions{}));
  EtcdClientOptions named;
  named.endpoints.push_back({.node = "n1", .host = "localhost", .port = 2379});
  EXPECT_FALSE(MakeEtcdClientFactory(named));
  EtcdClientOptions zero;
  zero.endpoints.push_back({.node = "n1", .host = "127.0.0.1", .port = 2379});
  zero.timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(MakeEtcdClientFactory(zero));
  zero.timeout = std::chrono::milliseconds(10);
  auto factory = MakeEtcdClientFactory(zero);
  ASSERT_TRUE(factory);
  asio::io_context io;
  EXPECT_FALSE((*factory)->Open(Process::Nemesis(), io));
}

TEST(EtcdJsonTest, TxnBodiesAndRangeResponses) {
  const auto ranges = nlohmann::json::parse(internal::TxnRangesBody({"a", "b"}, false));
  ASSERT_EQ(ranges["success"].size(), 2u);
  EXPECT_FALSE(ranges.contains("compare"));
  EXPECT_EQ(ranges["success"][1]["requestRange"]["key"], "Yg==");
  const auto guarded =
      nlohmann::json::parse(internal::GuardedPutsBody({{"a", 5}, {"b", 0}}, {{"a", "1 2"}}));
  ASSERT_EQ(guarded["compare"].size(), 2u);
  EXPECT_EQ(guarded["compare"][0]["target"], "MOD");
  EXPECT_EQ(guarded["compare"][1]["mod_revision"], "0");
  ASSERT_EQ(guarded["success"].size(), 1u);
  EXPECT_EQ(guarded["success"][0]["requestPut"]["value"], "MSAy");

  auto reply = internal::ParseReply(
      R"({"header":{"revision":"7"},"succeeded":true,"responses":[)"
      R"({"response_range":{"kvs":[{"key":"YQ==","value":"MSAy","mod_revision":"5"}],"count":"1"}},)"
      R"({"response_range":{"header":{}}},{"response_put":{}}]})");
  ASSERT_TRUE(reply) << reply.error().message();
  ASSERT_EQ(reply->ranges.size(), 2u);
  ASSERT_EQ(reply->ranges[0].size(), 1u);
  EXPECT_EQ(reply->ranges[0][0].value, "1 2");
  EXPECT_EQ(reply->ranges[0][0].mod_revision, 5);
  EXPECT_TRUE(reply->ranges[1].empty());
  EXPECT_FALSE(internal::ParseReply(R"({"responses":[{"response_range":{"kvs":3}}]})"));
}

}  // namespace
}  // namespace faultline::client
