#include "history/porcupine.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace faultline::history {
namespace {

// Tabs as in most corpus files, runs of spaces as in files 100 to 102.
constexpr char kLog[] =
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:invoke\t:write\t3\n"
    "INFO  jepsen.util - 2   :invoke :cas    [1 4]\n"
    "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:ok\t:write\t3\n"
    "INFO  jepsen.util - 2   :fail   :cas    [1 4]\n"
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[3 0]\n"
    "INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n"
    "INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n"
    "INFO  jepsen.util - 6\t:invoke\t:write\t2\n"
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 0\t:ok\t:read\t3\n";

TEST(ReadEtcdLogTest, ReadsEveryLineShape) {
  auto h = ReadEtcdLog(kLog, "etcd.log");
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 13u);
  EXPECT_EQ(h->source_name(), "etcd.log");
  for (size_t i = 0; i < h->size(); ++i) {
    EXPECT_EQ((*h)[i].index, static_cast<int64_t>(i));
    EXPECT_EQ((*h)[i].time_ns, static_cast<int64_t>(i));
    EXPECT_EQ(h->line(i), static_cast<int64_t>(i + 1));
    EXPECT_TRUE((*h)[i].extras.empty());
    EXPECT_FALSE((*h)[i].key.has_value());
  }
  const Op& read = (*h)[0];
  EXPECT_EQ(read.type, OpType::kInvoke);
  EXPECT_EQ(read.process, Process::Client(0));
  EXPECT_EQ(read.f, "read");
  EXPECT_TRUE(read.value.is_nil());
  EXPECT_FALSE(read.error.has_value());
  EXPECT_EQ((*h)[1].value, Value::Int(3));
  EXPECT_EQ((*h)[2].value, Value::Vector({Value::Int(1), Value::Int(4)}));
  EXPECT_EQ((*h)[2].f, "cas");
  EXPECT_EQ((*h)[3].type, OpType::kOk);
  EXPECT_TRUE((*h)[3].value.is_nil());
  EXPECT_EQ((*h)[5].type, OpType::kFail);
  EXPECT_EQ((*h)[5].value, Value::Vector({Value::Int(1), Value::Int(4)}));
  // A timed-out read fails with no result; P is not retired.
  EXPECT_EQ((*h)[8].type, OpType::kFail);
  EXPECT_TRUE((*h)[8].value.is_nil());
  EXPECT_EQ((*h)[8].error, Value::Keyword("timed-out"));
  // An :info completion carries its invocation's arguments.
  EXPECT_EQ((*h)[9].type, OpType::kInfo);
  EXPECT_EQ((*h)[9].value, Value::Vector({Value::Int(3), Value::Int(0)}));
  EXPECT_EQ((*h)[9].error, Value::Keyword("timed-out"));
  EXPECT_EQ((*h)[12].value, Value::Int(3));
  EXPECT_EQ(h->partner(0), 3u);
  EXPECT_EQ(h->partner(7), 9u);
  EXPECT_EQ(h->partner(10), History::kNone);
  EXPECT_EQ(h->invocation_count(), 7u);
  EXPECT_EQ(h->open_count(), 1u);
}

TEST(ReadEtcdLogTest, EmptyInputIsAnEmptyHistory) {
  auto h = ReadEtcdLog("", "etcd_095.log");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->empty());
}

TEST(ReadEtcdLogTest, AcceptsTrailingBlanksAndCrLf) {
  auto h = ReadEtcdLog(
      "INFO jepsen.util - 0 :invoke :read nil  \r\n\nINFO jepsen.util - 0 :ok :read 2\r\n",
      "crlf.log");
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ(h->line(1), 3);
  EXPECT_EQ((*h)[1].value, Value::Int(2));
}

TEST(ReadEtcdLogTest, CompletionWithoutInvocationNamesTheLine) {
  auto h = ReadEtcdLog("INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 4 :ok :read 2\n",
                       "lone.log");
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message().find("lone.log"), std::string::npos) << h.error().message();
  EXPECT_NE(h.error().message().find("line 2"), std::string::npos) << h.error().message();
}

struct BadLine {
  std::string name;
  std::string line;
  std::string error;
};

void PrintTo(const BadLine& b, std::ostream* os) { *os << b.line; }

class EtcdLogErrorTest : public testing::TestWithParam<BadLine> {};

TEST_P(EtcdLogErrorTest, NamesFileLineAndWhatWasExpected) {
  // The bad line comes second, after a valid invocation of process 0.
  const std::string text = "INFO jepsen.util - 0\t:invoke\t:write\t1\n" + GetParam().line + "\n";
  auto h = ReadEtcdLog(text, "etcd_007.log");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(h.error().message(), "etcd_007.log: line 2: " + GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, EtcdLogErrorTest,
    testing::Values(
        BadLine{"NotInfo", "WARN jepsen.util - 0 :ok :write 1", "expected \"INFO\", got \"WARN\""},
        BadLine{"WrongLogger", "INFO jepsen.core - 0 :ok :write 1",
                "expected \"jepsen.util\" after INFO, got \"jepsen.core\""},
        BadLine{"NoDash", "INFO jepsen.util 0 :ok :write 1",
                "expected \"-\" after jepsen.util, got \"0\""},
        BadLine{"ProcessNotNumber", "INFO jepsen.util - :nemesis :info :start nil",
                "expected a process number, got \":nemesis\""},
        BadLine{"Truncated", "INFO jepsen.util - 0",
                "expected :invoke, :ok, :fail or :info, got end of line"},
        BadLine{"UnknownType", "INFO jepsen.util - 0 :done :write 1",
                "expected :invoke, :ok, :fail or :info, got \":done\""},
        BadLine{"UnknownF", "INFO jepsen.util - 0 :ok :append 1",
                "expected :read, :write or :cas, got \":append\""},
        BadLine{"NoValue", "INFO jepsen.util - 0 :ok :write",
                "expected nil, an integer, [A B] or :timed-out, got end of line"},
        BadLine{"NegativeValue", "INFO jepsen.util - 0 :ok :write -1",
                "expected nil, an integer, [A B] or :timed-out, got \"-1\""},
        BadLine{"StringValue", "INFO jepsen.util - 0 :ok :write \"1\"",
                "expected nil, an integer, [A B] or :timed-out, got \"\"1\"\""},
        BadLine{"Triple", "INFO jepsen.util - 0 :ok :write [1 2 3]",
                "expected nil, an integer, [A B] or :timed-out, got \"[1 2 3]\""},
        BadLine{"ExtraField", "INFO jepsen.util - 0 :ok :write 1 2",
                "expected nil, an integer, [A B] or :timed-out, got \"1 2\""},
        BadLine{"WriteNil", "INFO jepsen.util - 0 :ok :write nil",
                "expected an integer for :ok :write, got \"nil\""},
        BadLine{"CasInt", "INFO jepsen.util - 0 :ok :cas 1",
                "expected [A B] for :ok :cas, got \"1\""},
        BadLine{"ReadPair", "INFO jepsen.util - 0 :ok :read [1 2]",
                "expected nil or an integer for :ok :read, got \"[1 2]\""},
        BadLine{"InvokeReadValue", "INFO jepsen.util - 1 :invoke :read 3",
                "expected nil for :invoke :read, got \"3\""},
        BadLine{"OkTimedOut", "INFO jepsen.util - 0 :ok :write :timed-out",
                "expected a value for :ok :write, got :timed-out (only :fail and :info completions "
                "time out)"}),
    [](const testing::TestParamInfo<BadLine>& p) { return p.param.name; });

}  // namespace
}  // namespace faultline::history
