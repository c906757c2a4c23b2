#include "history/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <set>

#include "history/op.h"

namespace faultline::history {
namespace {

TEST(ValueTest, NilEmptyStringAndZeroAreDistinct) {
  Value nil;
  Value empty = Value::String("");
  Value zero = Value::Int(0);
  EXPECT_NE(nil, empty);
  EXPECT_NE(nil, zero);
  EXPECT_NE(empty, zero);
  EXPECT_NE(nil.Hash(), empty.Hash());
  EXPECT_NE(empty.Hash(), zero.Hash());
  EXPECT_NE(Value::String("a"), Value::Keyword("a"));
  EXPECT_NE(Value::Vector({}), Value::List({}));
}

struct EdnCase {
  Value value;
  std::string edn;
};

void PrintTo(const EdnCase& c, std::ostream* os) { *os << c.edn; }

class ValueEdnTest : public testing::TestWithParam<EdnCase> {};

TEST_P(ValueEdnTest, WritesCanonicalEdn) { EXPECT_EQ(GetParam().value.ToEdn(), GetParam().edn); }

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ValueEdnTest,
    testing::Values(
        EdnCase{Value(), "nil"}, EdnCase{Value::Bool(true), "true"},
        EdnCase{Value::Int(-42), "-42"},
        EdnCase{Value::BigInt("123456789012345678901234567890"), "123456789012345678901234567890N"},
        EdnCase{Value::Double(1.5), "1.5"}, EdnCase{Value::Double(2.0), "2.0"},
        EdnCase{Value::Double(INFINITY), "##Inf"}, EdnCase{Value::Double(-INFINITY), "##-Inf"},
        EdnCase{Value::Double(NAN), "##NaN"}, EdnCase{Value::Decimal("1.50"), "1.50M"},
        EdnCase{Value::Ratio("1/3"), "1/3"},
        EdnCase{Value::String("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\""},
        EdnCase{Value::Keyword("jepsen.client/timeout"), ":jepsen.client/timeout"},
        EdnCase{Value::Symbol("java.net.SocketTimeoutException"),
                "java.net.SocketTimeoutException"},
        EdnCase{Value::Char("a"), "\\a"}, EdnCase{Value::Char("\n"), "\\newline"},
        EdnCase{Value::Vector({Value::Int(1), Value::Int(2)}), "[1 2]"},
        EdnCase{Value::List({Value::Int(1), Value()}), "(1 nil)"},
        EdnCase{Value::Set({Value::String("n1"), Value::String("n2")}), "#{\"n1\" \"n2\"}"},
        EdnCase{Value::Map({Value::Keyword("a"), Value::Int(1), Value::Int(2), Value::Int(3)}),
                "{:a 1, 2 3}"},
        EdnCase{Value::Tagged("inst", Value::String("2020-01-01T00:00:00Z")),
                "#inst \"2020-01-01T00:00:00Z\""},
        EdnCase{
            Value::Tagged("acme.Probe", Value::Map({Value::Keyword("lag"), Value::Decimal("1.5")})),
            "#acme.Probe{:lag 1.5M}"}));

TEST(ValueTest, HashIsConsistentWithEquality) {
  Value a = Value::Vector({Value::Int(3), Value::Vector({Value::Int(1), Value::Int(2)})});
  Value b = Value::Vector({Value::Int(3), Value::Vector({Value::Int(1), Value::Int(2)})});
  Value c = Value::Vector({Value::Int(3), Value::Vector({Value::Int(2), Value::Int(1)})});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a, c);
  EXPECT_NE(a.Hash(), c.Hash());
}

TEST(ValueTest, ValueLessIsATotalOrderAcrossKinds) {
  std::set<Value, ValueLess> s{Value::Int(2),
                               Value::Int(1),
                               Value::String("b"),
                               Value::String("a"),
                               Value(),
                               Value::Keyword("k"),
                               Value::Vector({Value::Int(1)}),
                               Value::Int(1)};
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(*s.begin(), Value());
  EXPECT_EQ(*std::next(s.begin()), Value::Int(1));
}

TEST(ValueTest, FindLooksUpKeywordKeys) {
  Value m = Value::Map({Value::Keyword("lag"), Value::Int(3), Value::String("x"), Value::Int(4)});
  ASSERT_NE(m.Find("lag"), nullptr);
  EXPECT_EQ(*m.Find("lag"), Value::Int(3));
  EXPECT_EQ(m.Find("x"), nullptr);  // a string key is not the keyword :x
  EXPECT_EQ(Value::Int(1).Find("lag"), nullptr);
}

Value OpMap(std::vector<Value> kv) { return Value::Map(std::move(kv)); }

TEST(OpTest, FromMapReadsCoreFieldsAndKeepsExtrasInOrder) {
  Value m =
      OpMap({Value::Keyword("type"), Value::Keyword("ok"), Value::Keyword("f"),
             Value::Keyword("cas"), Value::Keyword("process"), Value::Int(5),
             Value::Keyword("value"), Value::Vector({Value::Int(7), Value::Int(1)}),
             Value::Keyword("seen"), Value::Set({Value::String("n1")}), Value::Keyword("error"),
             Value::Keyword("timeout"), Value::String("note"), Value::Int(1)});
  auto op = OpFromMap(m);
  ASSERT_TRUE(op) << op.error().message();
  EXPECT_EQ(op->type, OpType::kOk);
  EXPECT_EQ(op->f, "cas");
  EXPECT_EQ(op->process, Process::Client(5));
  EXPECT_EQ(op->index, -1);
  EXPECT_EQ(op->time_ns, -1);
  EXPECT_EQ(op->ErrorText(), "timeout");
  ASSERT_EQ(op->extras.size(), 2u);
  EXPECT_EQ(op->extras[0].key, Value::Keyword("seen"));
  EXPECT_EQ(op->extras[1].key, Value::String("note"));
  // OpToMap then OpFromMap gives the same op back.
  auto again = OpFromMap(OpToMap(*op));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *op);
}

struct BadMapCase {
  std::string name;
  Value map;
  std::string message;
};

void PrintTo(const BadMapCase& c, std::ostream* os) { *os << c.name; }

class OpFromMapErrorTest : public testing::TestWithParam<BadMapCase> {};

TEST_P(OpFromMapErrorTest, SaysWhatWasExpected) {
  auto op = OpFromMap(GetParam().map);
  ASSERT_FALSE(op);
  EXPECT_EQ(op.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(op.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OpFromMapErrorTest,
    testing::Values(
        BadMapCase{"NotAMap", Value::Vector({}), "expected an op map, got []"},
        BadMapCase{"NoType", OpMap({Value::Keyword("process"), Value::Int(1)}),
                   "missing :type (expected :invoke, :ok, :fail or :info)"},
        BadMapCase{"BadType",
                   OpMap({Value::Keyword("type"), Value::Keyword("sleep"),
                          Value::Keyword("process"), Value::Int(1)}),
                   ":type must be one of :invoke :ok :fail :info, got :sleep"},
        BadMapCase{"BadProcess",
                   OpMap({Value::Keyword("type"), Value::Keyword("ok"), Value::Keyword("process"),
                          Value::Double(1.5)}),
                   ":process must be an integer or a keyword, got 1.5"},
        BadMapCase{"BadIndex",
                   OpMap({Value::Keyword("index"), Value::String("x"), Value::Keyword("type"),
                          Value::Keyword("ok"), Value::Keyword("process"), Value::Int(1)}),
                   ":index must be an integer, got \"x\""},
        BadMapCase{"DuplicateType",
                   OpMap({Value::Keyword("type"), Value::Keyword("ok"), Value::Keyword("type"),
                          Value::Keyword("ok"), Value::Keyword("process"), Value::Int(1)}),
                   "duplicate key :type"}),
    [](const testing::TestParamInfo<BadMapCase>& param) { return param.param.name; });

TEST(OpTest, CompleteKeepsProcessFAndKey) {
  Op inv{.index = 0,
         .time_ns = 1,
         .type = OpType::kInvoke,
         .process = Process::Client(2),
         .f = "get",
         .key = Value::String("k"),
         .value = Value(),
         .error = {},
         .extras = {}};
  Op done = inv.Complete(OpType::kOk, Value::String("v"));
  EXPECT_EQ(done.process, inv.process);
  EXPECT_EQ(done.f, "get");
  EXPECT_EQ(done.key, inv.key);
  EXPECT_EQ(done.value, Value::String("v"));
  EXPECT_EQ(Describe(done), "2 ok get key \"k\" \"v\"");
}

}  // namespace
}  // namespace faultline::history
