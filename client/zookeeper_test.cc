// The ZooKeeper client's pure parts: read modes, error classification, znode paths (no server).
#include "client/zookeeper.h"

#include <gtest/gtest.h>
#include <zookeeper/zookeeper.h>

namespace faultline::client {
namespace {

using history::OpType;

TEST(ZkReadMode, PlainAndSyncWithTheirAliases) {
  EXPECT_EQ(*ParseZkReadMode("plain"), ZkReadMode::kPlain);
  EXPECT_EQ(*ParseZkReadMode("serializable"), ZkReadMode::kPlain);
  EXPECT_EQ(*ParseZkReadMode("sync"), ZkReadMode::kSync);
  EXPECT_EQ(*ParseZkReadMode("linearizable"), ZkReadMode::kSync);
  Result<ZkReadMode> bad = ParseZkReadMode("quorum");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("'quorum'"), std::string::npos);
  EXPECT_NE(bad.error().message().find("plain or sync"), std::string::npos);
}

TEST(ZkClassify, OkIsOk) {
  EXPECT_EQ(ClassifyZkError(ZOK, true, true), OpType::kOk);
  EXPECT_EQ(ClassifyZkError(ZOK, true, false), OpType::kOk);
}

TEST(ZkClassify, UncertainWritesAreInfo) {
  for (int rc : {ZCONNECTIONLOSS, ZOPERATIONTIMEOUT, ZSESSIONEXPIRED, ZCLOSING, ZSESSIONMOVED,
                 ZSYSTEMERROR}) {
    EXPECT_EQ(ClassifyZkError(rc, true, true), OpType::kInfo) << zerror(rc);
  }
}

TEST(ZkClassify, CertainRefusalsAreFail) {
  for (int rc : {ZBADVERSION, ZNONODE, ZNODEEXISTS, ZBADARGUMENTS, ZNOAUTH}) {
    EXPECT_EQ(ClassifyZkError(rc, true, true), OpType::kFail) << zerror(rc);
  }
}

TEST(ZkClassify, UnsentAndReadErrorsAreFail) {
  // The library refused the call (expired session): nothing was sent.
  EXPECT_EQ(ClassifyZkError(ZINVALIDSTATE, false, true), OpType::kFail);
  EXPECT_EQ(ClassifyZkError(ZSESSIONEXPIRED, false, true), OpType::kFail);
  // A read changes nothing, whatever happened to it.
  EXPECT_EQ(ClassifyZkError(ZCONNECTIONLOSS, true, false), OpType::kFail);
  EXPECT_EQ(ClassifyZkError(ZSESSIONEXPIRED, true, false), OpType::kFail);
}

TEST(ZnodePath, FlatUnderTheRoot) {
  history::Op op;
  op.key = history::Value::Int(3);
  EXPECT_EQ(ZnodePath("faultline/", op), "/faultline_r_3");
  op.key = history::Value::String("x/y");
  EXPECT_EQ(ZnodePath("run/", op), "/run_r_x_y");
  op.key.reset();
  EXPECT_EQ(ZnodePath("faultline/", op), "/faultline_r_default");
}

TEST(ZkFactory, NeedsAnEndpoint) {
  EXPECT_FALSE(MakeZkClientFactory({}));
  ZkClientOptions o;
  o.endpoints.push_back({.node = "n1", .address = "127.0.0.1", .port = 2181});
  EXPECT_TRUE(MakeZkClientFactory(o));
}

}  // namespace
}  // namespace faultline::client
