#include "history/jsonl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "history/edn.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::history {
namespace {

using V = Value;

// Value's operator== follows IEEE (NaN differs from itself); a round trip must keep NaN, and the
// sign of zero, so compare doubles by their bits' meaning here.
bool Same(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kDouble: {
      const double x = a.as_double(), y = b.as_double();
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return x == y && std::signbit(x) == std::signbit(y);
    }
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kMap:
    case ValueKind::kSet:
    case ValueKind::kTagged: {
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!Same(a.items()[i], b.items()[i])) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

std::string Json(const Value& v) {
  std::string out;
  AppendJsonValue(out, v);
  return out;
}

std::string Json(const Op& op) {
  std::string out;
  AppendJsonOp(out, op);
  return out;
}

Value KwMap(std::vector<std::pair<std::string, Value>> kv) {
  std::vector<Value> items;
  for (auto& [k, v] : kv) {
    items.push_back(V::Keyword(k));
    items.push_back(std::move(v));
  }
  return V::Map(std::move(items));
}

// ---------------------------------------------------------------------------------------------
// Every value kind: its exact JSON text, and the way back.

struct ValueCase {
  std::string name;
  Value value;
  std::string json;
};

void PrintTo(const ValueCase& c, std::ostream* os) { *os << c.name << " -> " << c.json; }

class JsonValueTest : public testing::TestWithParam<ValueCase> {};

TEST_P(JsonValueTest, WritesExpectedText) { EXPECT_EQ(Json(GetParam().value), GetParam().json); }

TEST_P(JsonValueTest, ReadsBackTheSameValue) {
  auto parsed = ParseJsonValue(GetParam().json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(Same(*parsed, GetParam().value))
      << "got " << Json(*parsed) << " want " << GetParam().json;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

INSTANTIATE_TEST_SUITE_P(
    AllKinds, JsonValueTest,
    testing::Values(
        ValueCase{"Nil", V::Nil(), "null"}, ValueCase{"True", V::Bool(true), "true"},
        ValueCase{"False", V::Bool(false), "false"}, ValueCase{"Zero", V::Int(0), "0"},
        ValueCase{"Negative", V::Int(-17), "-17"},
        ValueCase{"Int64Max", V::Int(std::numeric_limits<int64_t>::max()), "9223372036854775807"},
        ValueCase{"Int64Min", V::Int(std::numeric_limits<int64_t>::min()), "-9223372036854775808"},
        ValueCase{"BigInt", V::BigInt("123456789012345678901234"),
                  R"({"~big":"123456789012345678901234"})"},
        ValueCase{"NegativeBigInt", V::BigInt("-99999999999999999999"),
                  R"({"~big":"-99999999999999999999"})"},
        ValueCase{"SmallBigInt", V::BigInt("5"), R"({"~big":"5"})"},
        ValueCase{"Double", V::Double(1.5), "1.5"}, ValueCase{"WholeDouble", V::Double(3.0), "3.0"},
        ValueCase{"NegativeZero", V::Double(-0.0), "-0.0"},
        ValueCase{"TenthDouble", V::Double(0.1), "0.1"},
        ValueCase{"HugeDouble", V::Double(1e300), "1e+300"},
        ValueCase{"LargeWholeDouble", V::Double(1e16), "1e+16"},
        ValueCase{"TinyDouble", V::Double(5e-324), "5e-324"},
        ValueCase{"MaxDouble", V::Double(std::numeric_limits<double>::max()),
                  "1.7976931348623157e+308"},
        ValueCase{"NaN", V::Double(kNaN), R"({"~double":"NaN"})"},
        ValueCase{"Inf", V::Double(kInf), R"({"~double":"Inf"})"},
        ValueCase{"NegativeInf", V::Double(-kInf), R"({"~double":"-Inf"})"},
        ValueCase{"Decimal", V::Decimal("1.5"), R"({"~dec":"1.5"})"},
        ValueCase{"WholeDecimal", V::Decimal("2"), R"({"~dec":"2"})"},
        ValueCase{"Ratio", V::Ratio("1/3"), R"({"~ratio":"1/3"})"},
        ValueCase{"EmptyString", V::String(""), R"("")"},
        ValueCase{"String", V::String("majority"), R"("majority")"},
        ValueCase{"StringEscapes", V::String("a\"b\\c\nd\te\rf\bg\fh"),
                  R"("a\"b\\c\nd\te\rf\bg\fh")"},
        ValueCase{"StringControls", V::String(std::string("\x01\x1f\x7f\0z", 5)),
                  "\"\\u0001\\u001f\x7f\\u0000z\""},
        ValueCase{"StringUtf8", V::String("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
                  "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\""},
        ValueCase{"StringLikeTilde", V::String("~kw"), R"("~kw")"},
        ValueCase{"StringBraces", V::String("#{[( ;"), R"("#{[( ;")"},
        ValueCase{"Keyword", V::Keyword("majority"), R"({"~kw":"majority"})"},
        ValueCase{"NamespacedKeyword", V::Keyword("jepsen.client/timeout"),
                  R"({"~kw":"jepsen.client/timeout"})"},
        ValueCase{"Symbol", V::Symbol("java.net.SocketTimeoutException"),
                  R"({"~sym":"java.net.SocketTimeoutException"})"},
        ValueCase{"Char", V::Char("a"), R"({"~char":"a"})"},
        ValueCase{"NewlineChar", V::Char("\n"), R"({"~char":"\n"})"},
        ValueCase{"Utf8Char", V::Char("\xC3\xA9"), "{\"~char\":\"\xC3\xA9\"}"},
        ValueCase{"EmptyVector", V::Vector({}), "[]"},
        ValueCase{"Vector", V::Vector({V::Int(1), V::Nil(), V::String("x")}), R"([1,null,"x"])"},
        ValueCase{"EmptyList", V::List({}), R"({"~list":[]})"},
        ValueCase{"List", V::List({V::Int(1), V::Keyword("a")}), R"({"~list":[1,{"~kw":"a"}]})"},
        ValueCase{"EmptySet", V::Set({}), R"({"~set":[]})"},
        ValueCase{"Set", V::Set({V::String("n3"), V::String("n1")}), R"({"~set":["n3","n1"]})"},
        ValueCase{"EmptyMap", V::Map({}), "{}"},
        ValueCase{"KeywordMap", KwMap({{"a", V::Int(1)}, {"valid?", V::Bool(true)}}),
                  R"({"a":1,"valid?":true})"},
        ValueCase{"KeywordMapKeepsOrder", KwMap({{"z", V::Int(1)}, {"a", V::Int(2)}}),
                  R"({"z":1,"a":2})"},
        ValueCase{"StringKeyMap",
                  V::Map({V::String("n1"), V::Set({V::String("n3")}), V::String("n2"), V::Set({})}),
                  R"({"~map":[["n1",{"~set":["n3"]}],["n2",{"~set":[]}]]})"},
        ValueCase{"IntKeyMap", V::Map({V::Int(1), V::Int(2)}), R"({"~map":[[1,2]]})"},
        ValueCase{"VectorKeyMap", V::Map({V::Vector({V::Int(1)}), V::Nil()}),
                  R"({"~map":[[[1],null]]})"},
        ValueCase{"MixedKeyMap", V::Map({V::Keyword("a"), V::Int(1), V::String("a"), V::Int(2)}),
                  R"({"~map":[[{"~kw":"a"},1],["a",2]]})"},
        ValueCase{"TildeKeywordKeyMap", V::Map({V::Keyword("~kw"), V::String("x")}),
                  R"({"~map":[[{"~kw":"~kw"},"x"]]})"},
        ValueCase{"EmptyKeywordKeyMap", V::Map({V::Keyword(""), V::Int(1)}),
                  R"({"~map":[[{"~kw":""},1]]})"},
        ValueCase{"MapKeyWithEscapes", KwMap({{"a\"b", V::Int(1)}}), R"({"a\"b":1})"},
        ValueCase{"Inst", V::Tagged("inst", V::String("2024-01-01T00:00:00Z")),
                  R"({"~tag":["inst","2024-01-01T00:00:00Z"]})"},
        ValueCase{"RecordTag",
                  V::Tagged("knossos.model.CASRegister", KwMap({{"value", V::Int(0)}})),
                  R"({"~tag":["knossos.model.CASRegister",{"value":0}]})"},
        ValueCase{
            "Nested",
            V::Vector({V::Keyword("isolated"), V::Map({V::String("n1"), V::Set({V::String("n3")})}),
                       V::List({V::Vector({V::Double(1.0), V::Decimal("1.5")})})}),
            R"([{"~kw":"isolated"},{"~map":[["n1",{"~set":["n3"]}]]},{"~list":[[1.0,{"~dec":"1.5"}]]}])"}),
    [](const testing::TestParamInfo<ValueCase>& p) { return p.param.name; });

// ---------------------------------------------------------------------------------------------
// Reading JSON written by others: escapes, whitespace, number forms.

struct ReadCase {
  std::string name;
  std::string json;
  Value want;
};

void PrintTo(const ReadCase& c, std::ostream* os) { *os << c.json; }

class JsonReadTest : public testing::TestWithParam<ReadCase> {};

TEST_P(JsonReadTest, Reads) {
  auto parsed = ParseJsonValue(GetParam().json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(Same(*parsed, GetParam().want)) << "got " << Json(*parsed);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, JsonReadTest,
    testing::Values(ReadCase{"UnicodeEscape", R"("caf\u00e9")", V::String("caf\xC3\xA9")},
                    ReadCase{"UpperHexEscape", R"("\u00E9\u20AC")",
                             V::String("\xC3\xA9\xE2\x82\xAC")},
                    ReadCase{"SurrogatePair", R"("\ud83d\ude00")", V::String("\xF0\x9F\x98\x80")},
                    ReadCase{"NulEscape", R"("a\u0000b")", V::String(std::string("a\0b", 3))},
                    ReadCase{"SlashEscape", R"("a\/b")", V::String("a/b")},
                    ReadCase{"Whitespace", " \t[ 1 , 2 ]\r\n ", V::Vector({V::Int(1), V::Int(2)})},
                    ReadCase{"ObjectWhitespace", R"({ "a" : 1 , "b" : [ ] })",
                             KwMap({{"a", V::Int(1)}, {"b", V::Vector({})}})},
                    ReadCase{"TildeWhitespace", R"({ "~kw" : "x" })", V::Keyword("x")},
                    ReadCase{"Exponent", "1e3", V::Double(1000.0)},
                    ReadCase{"UpperExponent", "2E-2", V::Double(0.02)},
                    ReadCase{"NegativeFraction", "-0.25", V::Double(-0.25)},
                    ReadCase{"NegativeZeroInt", "-0", V::Int(0)},
                    ReadCase{"Underflow", "1e-400", V::Double(0.0)},
                    ReadCase{"DuplicateKeysKept", R"({"a":1,"a":2})",
                             V::Map({V::Keyword("a"), V::Int(1), V::Keyword("a"), V::Int(2)})},
                    ReadCase{"EmptyKeyword", R"({"~kw":""})", V::Keyword("")},
                    ReadCase{"EscapedTildeKeyIsReserved", R"({"\u007ekw":"x"})", V::Keyword("x")}),
    [](const testing::TestParamInfo<ReadCase>& p) { return p.param.name; });

// ---------------------------------------------------------------------------------------------
// Malformed values: each error says what was expected, what came, and where.

struct ErrorCase {
  std::string name;
  std::string json;
  std::string error;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.json; }

class JsonValueErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(JsonValueErrorTest, ReportsWhatWasExpected) {
  auto parsed = ParseJsonValue(GetParam().json);
  ASSERT_FALSE(parsed) << "parsed as " << Json(*parsed);
  EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parsed.error().message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonValueErrorTest,
    testing::Values(
        ErrorCase{"Empty", "", "expected a value, got end of line at column 1"},
        ErrorCase{"Garbage", "@", "expected a value, got '@' at column 1"},
        ErrorCase{"BadLiteral", "tru", "expected a value, got 't' at column 1"},
        ErrorCase{"Trailing", "[1] x", "expected end of line after the value, got 'x' at column 5"},
        ErrorCase{"UnclosedArray", "[1,2",
                  "expected ',' or ']' in an array, got end of line at column 5"},
        ErrorCase{"TrailingComma", "[1,]", "expected a value, got ']' at column 4"},
        ErrorCase{"UnclosedObject", R"({"a":1)",
                  "expected ',' or '}' in an object, got end of line at column 7"},
        ErrorCase{"MissingColon", R"({"a" 1})",
                  "expected ':' after a field name, got '1' at column 6"},
        ErrorCase{"UnquotedKey", "{a:1}",
                  "expected '\"' to start a field name, got 'a' at column 2"},
        ErrorCase{"UnclosedString", R"("abc)",
                  "expected '\"' to close the string, got end of line at column 5"},
        ErrorCase{"RawTab", "\"a\tb\"",
                  "expected an escaped control character (\\n, \\t, \\u00XX) in the string, got "
                  "byte 0x09 at column 3"},
        ErrorCase{"BadEscape", R"("\x")",
                  "expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\', got 'x' at "
                  "column 3"},
        ErrorCase{"ShortUnicode", R"("\u12")",
                  "expected four hex digits after \\u, got '\"' at column 6"},
        ErrorCase{"LoneHighSurrogate", R"("\ud83d")",
                  "expected a \\u escape of a low surrogate after a high surrogate, got '\"' at "
                  "column 8"},
        ErrorCase{
            "HighThenNotLow", R"("\ud83d\u0041")",
            "expected a low surrogate (\\udc00 to \\udfff) after a high surrogate, got '\\' at "
            "column 8"},
        ErrorCase{"LoneLowSurrogate", R"("\ude00")",
                  "expected a code point, not a lone low surrogate, got '\\' at column 2"},
        ErrorCase{"LeadingZero", "01", "expected no leading zero, got '1' at column 2"},
        ErrorCase{"BareMinus", "-", "expected a digit, got end of line at column 2"},
        ErrorCase{"NoFractionDigits", "1.",
                  "expected a digit after '.', got end of line at column 3"},
        ErrorCase{"NoExponentDigits", "1e+",
                  "expected a digit in the exponent, got end of line at column 4"},
        ErrorCase{"LeadingDot", ".5", "expected a value, got '.' at column 1"},
        ErrorCase{"IntOverflow", "12345678901234567890",
                  "integer 12345678901234567890 at column 1 does not fit in 64 bits (write big "
                  "integers as {\"~big\":\"12345678901234567890\"})"},
        ErrorCase{"IntJustOverMax", "[9223372036854775808]",
                  "integer 9223372036854775808 at column 2 does not fit in 64 bits (write big "
                  "integers as {\"~big\":\"9223372036854775808\"})"},
        ErrorCase{"NegativeOverflow", "-9223372036854775809",
                  "integer -9223372036854775809 at column 1 does not fit in 64 bits (write big "
                  "integers as {\"~big\":\"-9223372036854775809\"})"},
        ErrorCase{"DoubleOverflow", "1e999",
                  "number 1e999 at column 1 is out of the range of a double (write infinities as "
                  "{\"~double\":\"Inf\"})"},
        ErrorCase{"UnknownTilde", R"({"~foo":1})",
                  "expected one of ~kw ~sym ~char ~big ~dec ~ratio ~double ~list ~set ~map ~tag, "
                  "got \"~foo\" at column 1 (keys starting with '~' are reserved)"},
        ErrorCase{"TildeNotAlone", R"({"~kw":"x","a":1})",
                  "expected '}' after the \"~kw\" value (a '~' field stands alone), got ',' at "
                  "column 11"},
        ErrorCase{"TildeAfterPlainKey", R"({"a":1,"~kw":"x"})",
                  "field name \"~kw\" at column 8 starts with '~' (reserved for a one-field object "
                  "such as {\"~kw\":\"x\"})"},
        ErrorCase{"KeywordNotString", R"({"~kw":1})",
                  "expected a string after \"~kw\", got '1' at column 8"},
        ErrorCase{"EmptyFieldName", R"({"":1})", "empty field name at column 2"},
        ErrorCase{"BadBigInt", R"({"~big":"12a"})",
                  "expected decimal digits in \"~big\", got \"12a\" at column 1"},
        ErrorCase{"BadRatio", R"({"~ratio":"13"})",
                  "expected a ratio \"a/b\" in \"~ratio\", got \"13\" at column 1"},
        ErrorCase{"BadDouble", R"({"~double":"nan"})",
                  "expected \"NaN\", \"Inf\" or \"-Inf\" in \"~double\", got \"nan\" at column 1"},
        ErrorCase{"SetNotArray", R"({"~set":{}})",
                  "expected an array after \"~set\", got '{' at column 9"},
        ErrorCase{"MapPairTooShort", R"({"~map":[[1]]})",
                  "expected ',' between key and value after \"~map\", got ']' at column 12"},
        ErrorCase{"MapPairTooLong", R"({"~map":[[1,2,3]]})",
                  "expected ']' after a [key, value] pair after \"~map\", got ',' at column 14"},
        ErrorCase{"MapNotPairs", R"({"~map":[1]})",
                  "expected a [key, value] pair after \"~map\", got '1' at column 10"},
        ErrorCase{"TagWithoutForm", R"({"~tag":["inst"]})",
                  "expected ',' after the tag in \"~tag\", got ']' at column 16"},
        ErrorCase{"TagNotString", R"({"~tag":[1,2]})",
                  "expected a tag string in \"~tag\", got '1' at column 10"}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

TEST(JsonValueTest, RejectsDeepNesting) {
  const std::string deep = std::string(600, '[') + std::string(600, ']');
  auto parsed = ParseJsonValue(deep);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message(), "values nested deeper than 512 levels");
}

// ---------------------------------------------------------------------------------------------
// Random values: Value -> JSON -> Value is the identity (seeded; the seed is printed on failure).

class RandomValues {
 public:
  explicit RandomValues(uint64_t seed) : rng_(seed) {}

  Value Make(int depth) {
    const int kinds = depth > 3 ? 11 : 16;
    switch (Pick(kinds)) {
      case 0:
        return V::Nil();
      case 1:
        return V::Bool(Pick(2) == 1);
      case 2:
        return V::Int(static_cast<int64_t>(rng_()) >> Pick(64));
      case 3:
        return V::BigInt(std::to_string(rng_()) + std::to_string(rng_()));
      case 4:
        return V::Double(Double());
      case 5:
        return V::Decimal(std::to_string(Pick(1000)) + "." + std::to_string(Pick(1000)));
      case 6:
        return V::Ratio(std::to_string(Pick(100)) + "/" + std::to_string(1 + Pick(100)));
      case 7:
        return V::String(Text());
      case 8:
        return V::Keyword(Name());
      case 9:
        return V::Symbol(Name());
      case 10:
        return V::Char(Pick(2) == 0 ? std::string(1, static_cast<char>('a' + Pick(26))) : "\n");
      case 11:
        return V::List(Items(depth));
      case 12:
        return V::Vector(Items(depth));
      case 13:
        return V::Set(Items(depth));
      case 14: {
        std::vector<Value> kv;
        const bool keywords = Pick(2) == 0;
        for (int i = 0, n = Pick(4); i < n; ++i) {
          kv.push_back(keywords ? V::Keyword(Name()) : Make(depth + 1));
          kv.push_back(Make(depth + 1));
        }
        return V::Map(std::move(kv));
      }
      default:
        return V::Tagged(Name(), Make(depth + 1));
    }
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  double Double() {
    switch (Pick(6)) {
      case 0:
        return std::numeric_limits<double>::quiet_NaN();
      case 1:
        return Pick(2) == 0 ? kInf : -kInf;
      case 2:
        return static_cast<double>(Pick(1000));
      default: {
        uint64_t bits = rng_();
        double d = 0;
        static_assert(sizeof(d) == sizeof(bits));
        std::memcpy(&d, &bits, sizeof(d));
        return d;
      }
    }
  }
  std::string Name() {
    static const std::string kChars = "abcxyz.*+!-_?$%&=<>'~/";
    std::string s(1, static_cast<char>('a' + Pick(26)));
    for (int i = 0, n = Pick(8); i < n; ++i)
      s.push_back(kChars[Pick(static_cast<int>(kChars.size()))]);
    if (Pick(8) == 0) s.insert(s.begin(), '~');
    return s;
  }
  std::string Text() {
    std::string s;
    for (int i = 0, n = Pick(12); i < n; ++i) {
      switch (Pick(4)) {
        case 0:
          s.push_back(static_cast<char>(Pick(0x20)));
          break;
        case 1:
          s += "\xE2\x82\xAC";
          break;
        default:
          s.push_back(static_cast<char>(0x20 + Pick(0x5f)));
          break;
      }
    }
    return s;
  }
  std::vector<Value> Items(int depth) {
    std::vector<Value> items;
    for (int i = 0, n = Pick(5); i < n; ++i) items.push_back(Make(depth + 1));
    return items;
  }

  std::mt19937_64 rng_;
};

TEST(JsonValueTest, RandomValuesRoundTrip) {
  constexpr uint64_t kSeed = 20261128;
  RandomValues gen(kSeed);
  for (int i = 0; i < 3000; ++i) {
    const Value v = gen.Make(0);
    const std::string json = Json(v);
    auto parsed = ParseJsonValue(json);
    ASSERT_TRUE(parsed) << "seed " << kSeed << " value " << i << ": " << json << ": "
                        << parsed.error().message();
    ASSERT_TRUE(Same(*parsed, v)) << "seed " << kSeed << " value " << i << ": " << json
                                  << " read back as " << Json(*parsed);
    ASSERT_EQ(json.find('\n'), std::string::npos) << json;
  }
}

// ---------------------------------------------------------------------------------------------
// Ops.

Op MakeOp(int64_t index, OpType type, Process process, std::string f, Value value) {
  return Op{.index = index,
            .time_ns = index * 1000,
            .type = type,
            .process = std::move(process),
            .f = std::move(f),
            .key = std::nullopt,
            .value = std::move(value),
            .error = std::nullopt,
            .extras = {}};
}

struct OpCase {
  std::string name;
  Op op;
  std::string json;
};

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.json; }

class JsonOpTest : public testing::TestWithParam<OpCase> {};

TEST_P(JsonOpTest, WritesExpectedLine) { EXPECT_EQ(Json(GetParam().op), GetParam().json); }

TEST_P(JsonOpTest, ReadsBackTheSameOp) {
  auto op = ParseJsonOp(GetParam().json);
  ASSERT_TRUE(op) << op.error().message();
  EXPECT_EQ(*op, GetParam().op) << "got " << Json(*op);
}

// The JSON encoding and the EDN op map agree: the op read from JSON has the same map.
TEST_P(JsonOpTest, MatchesOpFromMap) {
  auto via_map = OpFromMap(OpToMap(GetParam().op));
  ASSERT_TRUE(via_map) << via_map.error().message();
  EXPECT_EQ(*via_map, GetParam().op);
}

Op WithExtras(Op op, std::vector<Field> extras) {
  op.extras = std::move(extras);
  return op;
}

Op WithKeyAndError(Op op, Value key, Value error) {
  op.key = std::move(key);
  op.error = std::move(error);
  return op;
}

Op Untimed(Op op) {
  op.index = -1;
  op.time_ns = -1;
  return op;
}

INSTANTIATE_TEST_SUITE_P(
    Ops, JsonOpTest,
    testing::Values(
        OpCase{"Invoke", MakeOp(0, OpType::kInvoke, Process::Client(0), "write", V::Int(3)),
               R"({"index":0,"time":0,"type":"invoke","process":0,"f":"write","value":3})"},
        OpCase{"Read", MakeOp(1, OpType::kInvoke, Process::Client(2), "read", V::Nil()),
               R"({"index":1,"time":1000,"type":"invoke","process":2,"f":"read","value":null})"},
        OpCase{
            "Cas",
            MakeOp(2, OpType::kFail, Process::Client(1), "cas", V::Vector({V::Int(2), V::Int(1)})),
            R"({"index":2,"time":2000,"type":"fail","process":1,"f":"cas","value":[2,1]})"},
        OpCase{
            "Nemesis",
            MakeOp(5, OpType::kInfo, Process::Nemesis(), "start-partition",
                   V::Vector({V::Keyword("isolated"),
                              V::Map({V::String("n1"), V::Set({V::String("n3")})})})),
            R"({"index":5,"time":5000,"type":"info","process":"nemesis","f":"start-partition","value":[{"~kw":"isolated"},{"~map":[["n1",{"~set":["n3"]}]]}]})"},
        OpCase{
            "KeyAndError",
            WithKeyAndError(MakeOp(7, OpType::kInfo, Process::Client(2), "write", V::Int(4)),
                            V::String("k"), V::Keyword("timeout")),
            R"({"index":7,"time":7000,"type":"info","process":2,"f":"write","key":"k","value":4,"error":{"~kw":"timeout"}})"},
        OpCase{"NoIndexNoTime",
               Untimed(MakeOp(0, OpType::kOk, Process::Client(5), "read", V::Int(1))),
               R"({"type":"ok","process":5,"f":"read","value":1})"},
        OpCase{"NoF", MakeOp(3, OpType::kInvoke, Process::Client(0), "", V::Nil()),
               R"({"index":3,"time":3000,"type":"invoke","process":0,"value":null})"},
        OpCase{
            "KeywordExtras",
            WithExtras(MakeOp(8, OpType::kOk, Process::Client(0), "read", V::Int(1)),
                       {Field{V::Keyword("end-process?"), V::Bool(true)},
                        Field{V::Keyword("seen"), V::Set({V::String("n1")})},
                        Field{V::Keyword("faultline"), V::Int(1)}}),
            R"({"index":8,"time":8000,"type":"ok","process":0,"f":"read","value":1,"end-process?":true,"seen":{"~set":["n1"]},"faultline":1})"},
        OpCase{
            "NonKeywordExtras",
            WithExtras(MakeOp(9, OpType::kOk, Process::Client(0), "read", V::Int(1)),
                       {Field{V::Keyword("a"), V::Int(1)}, Field{V::String("b"), V::Int(2)},
                        Field{V::Keyword("~c"), V::Int(3)}}),
            R"({"index":9,"time":9000,"type":"ok","process":0,"f":"read","value":1,"~extras":[[{"~kw":"a"},1],["b",2],[{"~kw":"~c"},3]]})"},
        OpCase{
            "ExceptionExtra",
            WithExtras(MakeOp(10, OpType::kInfo, Process::Client(3), "cas", V::Nil()),
                       {Field{V::Keyword("exception"),
                              KwMap({{"type", V::Symbol("java.net.SocketTimeoutException")},
                                     {"via", V::Vector({V::Symbol("<init>")})}})}}),
            R"({"index":10,"time":10000,"type":"info","process":3,"f":"cas","value":null,"exception":{"type":{"~sym":"java.net.SocketTimeoutException"},"via":[{"~sym":"<init>"}]}})"},
        OpCase{
            "NamedProcess", MakeOp(11, OpType::kInfo, Process::Named("clock"), "bump", V::Int(2)),
            R"({"index":11,"time":11000,"type":"info","process":"clock","f":"bump","value":2})"}),
    [](const testing::TestParamInfo<OpCase>& p) { return p.param.name; });

TEST(JsonOpTest, AcceptsAnyFieldOrder) {
  auto op =
      ParseJsonOp(R"({"value":3,"f":"write","process":0,"type":"invoke","time":5,"index":1})");
  ASSERT_TRUE(op) << op.error().message();
  Op want = MakeOp(1, OpType::kInvoke, Process::Client(0), "write", V::Int(3));
  want.time_ns = 5;
  EXPECT_EQ(*op, want);
}

TEST(JsonOpTest, NamesCloseToOpFieldsAreExtras) {
  auto op = ParseJsonOp(
      R"({"typo":1,"type":"ok","tim":2,"process":0,"indexes":3,"fx":4,"v":5,"k":6,"e":7,"p":8})");
  ASSERT_TRUE(op) << op.error().message();
  std::vector<std::string> names;
  for (const Field& f : op->extras) names.push_back(f.key.text());
  EXPECT_EQ(names, (std::vector<std::string>{"typo", "tim", "indexes", "fx", "v", "k", "e", "p"}));
  EXPECT_EQ(op->type, OpType::kOk);
  EXPECT_EQ(op->extras[0].value, V::Int(1));
}

TEST(JsonOpTest, EscapedFieldNamesAndTypesAreRead) {
  auto op = ParseJsonOp(R"({"t\u0079pe":"\u006fk","process":0,"\u0066":"read"})");
  ASSERT_TRUE(op) << op.error().message();
  EXPECT_EQ(op->type, OpType::kOk);
  EXPECT_EQ(op->f, "read");
}

TEST(JsonOpTest, MissingValueIsNil) {
  auto op = ParseJsonOp(R"({"type":"invoke","process":0,"f":"read"})");
  ASSERT_TRUE(op) << op.error().message();
  EXPECT_TRUE(op->value.is_nil());
  EXPECT_EQ(op->index, -1);
  EXPECT_EQ(op->time_ns, -1);
}

class JsonOpErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(JsonOpErrorTest, ReportsWhatWasExpected) {
  auto op = ParseJsonOp(GetParam().json);
  ASSERT_FALSE(op) << "parsed as " << Json(*op);
  EXPECT_EQ(op.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(op.error().message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonOpErrorTest,
    testing::Values(
        ErrorCase{"NotAnObject", "[1]", "expected '{' to start an op, got '[' at column 1"},
        ErrorCase{"MissingType", R"({"process":0})",
                  "missing field \"type\" (expected \"invoke\", \"ok\", \"fail\" or \"info\")"},
        ErrorCase{"UnknownType", R"({"type":"done","process":0})",
                  "expected \"invoke\", \"ok\", \"fail\" or \"info\" for \"type\", got \"done\" at "
                  "column 9"},
        ErrorCase{"TypePrefix", R"({"type":"okay","process":0})",
                  "expected \"invoke\", \"ok\", \"fail\" or \"info\" for \"type\", got \"okay\" at "
                  "column 9"},
        ErrorCase{"CutInFieldName", R"({"ty)",
                  "expected '\"' to close the string, got end of line at column 5"},
        ErrorCase{"CutInType", R"({"type":"inv)",
                  "expected '\"' to close the string, got end of line at column 13"},
        ErrorCase{"TypeAsKeyword", R"({"type":{"~kw":"ok"},"process":0})",
                  "expected \"invoke\", \"ok\", \"fail\" or \"info\" for \"type\", got an object "
                  "at column 9"},
        ErrorCase{"ProcessArray", R"({"type":"ok","process":[1]})",
                  "expected an integer or a name for \"process\", got an array at column 24"},
        ErrorCase{"ProcessEmpty", R"({"type":"ok","process":""})",
                  "expected an integer or a name for \"process\", got a string at column 24"},
        ErrorCase{"IndexDouble", R"({"index":1.0,"type":"ok","process":0})",
                  "expected an integer for \"index\", got a number at column 10"},
        ErrorCase{"TimeString", R"({"time":"5","type":"ok","process":0})",
                  "expected an integer for \"time\", got a string at column 9"},
        ErrorCase{"FNotString", R"({"type":"ok","process":0,"f":{"~kw":"read"}})",
                  "expected a string for \"f\", got an object at column 30"},
        ErrorCase{"FEmpty", R"({"type":"ok","process":0,"f":""})",
                  "expected a name for \"f\", got \"\" at column 30"},
        ErrorCase{"DuplicateType", R"({"type":"ok","type":"ok","process":0})",
                  "duplicate field \"type\" at column 14"},
        ErrorCase{"DuplicateValue", R"({"type":"ok","process":0,"value":1,"value":2})",
                  "duplicate field \"value\" at column 36"},
        ErrorCase{"ReservedField", R"({"type":"ok","process":0,"~kw":"x"})",
                  "expected an op field name, got \"~kw\" at column 26 (keys starting with '~' are "
                  "reserved)"},
        ErrorCase{"BigIndex", R"({"index":99999999999999999999,"type":"ok","process":0})",
                  "integer 99999999999999999999 at column 10 does not fit in 64 bits (write big "
                  "integers as {\"~big\":\"99999999999999999999\"})"},
        ErrorCase{"Metadata", R"({"faultline":{"format":1}})",
                  "expected an op, got run metadata (a \"faultline\" object without \"type\")"},
        ErrorCase{"MetadataWithFields", R"({"faultline":{"format":1},"process":0})",
                  "expected either an op (with \"type\") or run metadata (only \"faultline\"), got "
                  "\"faultline\" with other fields"},
        ErrorCase{"TrailingText", R"({"type":"ok","process":0} x)",
                  "expected end of line after the value, got 'x' at column 27"},
        ErrorCase{"Truncated", R"({"type":"ok","proc)",
                  "expected '\"' to close the string, got end of line at column 19"}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

// ---------------------------------------------------------------------------------------------
// Whole histories.

constexpr char kHistory[] =
    R"({"faultline":{"format":1,"seed":42}}
{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":3}
{"index":1,"time":20,"type":"invoke","process":"nemesis","f":"start-partition","value":{"~kw":"majority"}}
{"index":2,"time":30,"type":"ok","process":0,"f":"write","value":3}
{"index":3,"time":40,"type":"info","process":"nemesis","f":"start-partition","value":[{"~kw":"isolated"},{"~map":[["n1",{"~set":["n2"]}]]}]}
{"index":4,"time":50,"type":"invoke","process":1,"f":"read","value":null}
)";

TEST(ReadJsonlHistoryTest, ReadsOpsAndMetadata) {
  JsonlReadInfo info;
  auto h = ReadJsonlHistory(kHistory, "h.jsonl", &info);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 5u);
  EXPECT_EQ(h->source_name(), "h.jsonl");
  Op first = MakeOp(0, OpType::kInvoke, Process::Client(0), "write", V::Int(3));
  first.time_ns = 10;
  EXPECT_EQ((*h)[0], first);
  EXPECT_EQ((*h)[1].process, Process::Nemesis());
  EXPECT_EQ((*h)[1].value, V::Keyword("majority"));
  EXPECT_EQ((*h)[4].value, V::Nil());
  EXPECT_EQ(h->line(0), 2);
  EXPECT_EQ(h->line(4), 6);
  EXPECT_EQ(h->partner(0), 2u);
  EXPECT_EQ(h->partner(4), History::kNone);
  EXPECT_FALSE(info.truncated_tail);
  ASSERT_EQ(info.metadata.size(), 1u);
  EXPECT_EQ(info.metadata[0], KwMap({{"format", V::Int(1)}, {"seed", V::Int(42)}}));
}

TEST(ReadJsonlHistoryTest, WriteThenReadIsIdentity) {
  auto h = ReadJsonlHistory(kHistory, "h.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  const std::string text = WriteJsonlHistory(*h);
  EXPECT_EQ(text, std::string(kHistory).substr(std::string(kHistory).find('\n') + 1));
  auto again = ReadJsonlHistory(text, "again.jsonl");
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_EQ(again->size(), h->size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ((*again)[i], (*h)[i]) << "op " << i;
}

TEST(ReadJsonlHistoryTest, IgnoresATruncatedLastLine) {
  const std::string text = std::string(kHistory) + R"({"index":5,"time":60,"type":"ok","proc)";
  JsonlReadInfo info;
  auto h = ReadJsonlHistory(text, "h.jsonl", &info);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 5u);
  EXPECT_TRUE(info.truncated_tail);
  EXPECT_EQ(info.truncated_line, 7);
}

TEST(ReadJsonlHistoryTest, IgnoresATruncatedLastLineWithoutInfo) {
  const std::string text = std::string(kHistory) + R"({"index":5,"ti)";
  auto h = ReadJsonlHistory(text, "h.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 5u);
}

TEST(ReadJsonlHistoryTest, CompleteLastLineWithoutNewlineIsRead) {
  const std::string text = std::string(kHistory) +
                           R"({"index":5,"time":60,"type":"ok","process":1,"f":"read","value":3})";
  JsonlReadInfo info;
  auto h = ReadJsonlHistory(text, "h.jsonl", &info);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->size(), 6u);
  EXPECT_FALSE(info.truncated_tail);
  EXPECT_EQ(h->partner(4), 5u);
}

TEST(ReadJsonlHistoryTest, InvalidOpOnLastLineIsAnError) {
  // Well-formed JSON is not a torn write, so a bad op at the end is an error like anywhere else.
  const std::string text = std::string(kHistory) + R"({"index":5,"type":"done","process":1})";
  auto h = ReadJsonlHistory(text, "h.jsonl");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(),
            "h.jsonl: line 7: expected \"invoke\", \"ok\", \"fail\" or \"info\" for \"type\", got "
            "\"done\" at column 19");
}

TEST(ReadJsonlHistoryTest, MalformedLineInTheMiddleIsAnError) {
  const std::string text =
      "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n"
      "{\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":[1,}\n"
      "{\"index\":2,\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n";
  auto h = ReadJsonlHistory(text, "bad.jsonl");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(h.error().message(), "bad.jsonl: line 2: expected a value, got '}' at column 58");
}

TEST(ReadJsonlHistoryTest, TruncatedLineFollowedByNewlineIsAnError) {
  const std::string text = "{\"index\":0,\"type\":\"inv\n";
  auto h = ReadJsonlHistory(text, "cut.jsonl");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(),
            "cut.jsonl: line 1: expected '\"' to close the string, got end of line at column 23");
}

TEST(ReadJsonlHistoryTest, SkipsBlankLinesAndCarriageReturns) {
  const std::string text =
      "\n{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\r\n   \n"
      "{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1}\r\n";
  auto h = ReadJsonlHistory(text, "crlf.jsonl");
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ(h->line(0), 2);
  EXPECT_EQ(h->line(1), 4);
  EXPECT_EQ((*h)[0].index, 0);
  EXPECT_EQ((*h)[1].index, 1);
}

TEST(ReadJsonlHistoryTest, PairingErrorsNameTheLine) {
  const std::string text =
      "{\"faultline\":{}}\n"
      "{\"index\":0,\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":1}\n";
  auto h = ReadJsonlHistory(text, "pair.jsonl");
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message().find("pair.jsonl"), std::string::npos) << h.error().message();
  EXPECT_NE(h.error().message().find("line 2"), std::string::npos) << h.error().message();
}

TEST(ReadJsonlHistoryTest, EmptyInputIsAnEmptyHistory) {
  JsonlReadInfo info;
  auto h = ReadJsonlHistory("", "empty.jsonl", &info);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->empty());
  EXPECT_FALSE(info.truncated_tail);
}

// EDN op maps of every shape FORMATS.md §1.6 shows: EDN -> Op -> JSON -> Op keeps the op, and
// writing it back as EDN gives the same op map.
TEST(ReadJsonlHistoryTest, EdnExampleSurvivesJsonl) {
  const std::string edn =
      R"({:index 0, :time 1203344, :type :invoke, :process 0, :f :write, :value 3}
{:index 1, :time 1450021, :type :invoke, :process 1, :f :cas, :value [2 1]}
{:index 2, :time 2210087, :type :ok, :process 0, :f :write, :value 3}
{:index 3, :time 2390115, :type :fail, :process 1, :f :cas, :value [2 1], :error :mismatch}
{:index 4, :time 4000000000, :type :info, :process :nemesis, :f :start-partition, :value :majority}
{:index 5, :time 4000521113, :type :info, :process :nemesis, :f :start-partition, :value [:isolated {"n1" #{"n3"}, "n2" #{"n3"}, "n3" #{"n1" "n2"}}]}
{:index 6, :time 4100000000, :type :invoke, :process 2, :f :write, :value 4}
{:index 7, :time 9100000000, :type :info, :process 2, :f :write, :value 4, :error :timeout}
{:type :invoke, :f :cas, :value [7 [1 2]], :process 5} ; independent key 7; no :index or :time
{:type :ok, :f :cas, :process 5, :value [7 [1 2]], :time 12000000000N, :seen #{"n1" "n2"}, :note #_ "gone" "kept", :probe #acme.Probe{:lag 1.5M}}
)";
  auto from_edn = ReadEdnHistory(edn, "example.edn");
  ASSERT_TRUE(from_edn) << from_edn.error().message();
  const std::string jsonl = WriteJsonlHistory(*from_edn);
  auto from_jsonl = ReadJsonlHistory(jsonl, "example.jsonl");
  ASSERT_TRUE(from_jsonl) << from_jsonl.error().message() << "\n" << jsonl;
  ASSERT_EQ(from_jsonl->size(), from_edn->size());
  for (size_t i = 0; i < from_edn->size(); ++i) {
    EXPECT_EQ((*from_jsonl)[i], (*from_edn)[i]) << "op " << i;
    EXPECT_EQ(OpToMap((*from_jsonl)[i]), OpToMap((*from_edn)[i])) << "op " << i;
  }
  EXPECT_EQ(WriteEdnHistory(*from_jsonl), WriteEdnHistory(*from_edn));
}

// ---- one JSON array of ops (elle-cli's form) ----

// Pretty-printed as a person or `jq .` would: objects over several lines, spaces everywhere.
const char kElleArray[] = R"([
  {"index": 0, "process": 0, "type": "invoke",
   "value": [["append", 1, 1], ["r", 2, null]]},
  {"index": 1, "process": 0, "type": "ok",
   "value": [["append", 1, 1], ["r", 2, [3]]]},
  {"faultline": {"seed": 7}},
  {"index": 2, "process": "nemesis", "type": "info", "f": "start", "value": "majority"}
]
)";

TEST(ReadJsonArrayHistoryTest, ReadsObjectsOverLinesWithTheirLinesAndMetadata) {
  JsonlReadInfo info;
  auto h = ReadJsonArrayHistory(kElleArray, "a.json", &info);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ(h->line(0), 2);
  EXPECT_EQ(h->line(1), 4);
  EXPECT_EQ(h->line(2), 7);
  EXPECT_EQ(h->partner(0), 1u);
  // As elle-cli reads them: micro-op names become keywords, other strings stay strings.
  EXPECT_EQ((*h)[1].value.ToEdn(), "[[:append 1 1] [:r 2 [3]]]");
  EXPECT_EQ((*h)[2].value, V::String("majority"));
  EXPECT_EQ((*h)[2].process, Process::Nemesis());
  ASSERT_EQ(info.metadata.size(), 1u);
  EXPECT_EQ(info.metadata[0], KwMap({{"seed", V::Int(7)}}));
}

TEST(ReadJsonArrayHistoryTest, WriteThenReadIsIdentityAndSpellsMicroOpsAsElleCliDoes) {
  auto h = ReadJsonArrayHistory(kElleArray, "a.json");
  ASSERT_TRUE(h) << h.error().message();
  const std::string text = WriteJsonArrayHistory(*h);
  EXPECT_EQ(text.substr(0, 2), "[{");
  EXPECT_EQ(text.substr(text.size() - 3), "}]\n");
  EXPECT_NE(text.find(R"([["append",1,1],["r",2,[3]]])"), std::string::npos) << text;
  EXPECT_EQ(text.find("~kw"), std::string::npos) << text;
  auto again = ReadJsonArrayHistory(text, "again.json");
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_EQ(again->size(), h->size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ((*again)[i], (*h)[i]) << "op " << i;
  // EDN with keyword micro-ops goes through the JSON array and back unchanged.
  auto edn = ReadEdnHistory(
      "[{:index 0 :type :invoke :process 0 :f :txn :value [[:w 5 2] [:r 5 nil]]}\n"
      " {:index 1 :type :ok :process 0 :f :txn :value [[:w 5 2] [:r 5 2]]}]",
      "t.edn");
  ASSERT_TRUE(edn) << edn.error().message();
  auto through = ReadJsonArrayHistory(WriteJsonArrayHistory(*edn), "t.json");
  ASSERT_TRUE(through) << through.error().message();
  EXPECT_EQ(WriteEdnHistory(*through), WriteEdnHistory(*edn));
}

TEST(ReadJsonArrayHistoryTest, EmptyArrayAndByteOrderMark) {
  auto empty = ReadJsonArrayHistory(" [ ] \n", "e.json");
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->empty());
  auto bom = ReadJsonArrayHistory("\xEF\xBB\xBF[{\"type\":\"invoke\",\"process\":0}]", "b.json");
  ASSERT_TRUE(bom) << bom.error().message();
  EXPECT_EQ(bom->size(), 1u);
}

struct ArrayErrorCase {
  std::string name;
  std::string text;
  std::string message;
};

class ReadJsonArrayErrorTest : public testing::TestWithParam<ArrayErrorCase> {};

TEST_P(ReadJsonArrayErrorTest, NamesFileLineAndColumn) {
  auto h = ReadJsonArrayHistory(GetParam().text, "bad.json");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(h.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReadJsonArrayErrorTest,
    testing::Values(
        ArrayErrorCase{
            "BadValueOnLineThree",
            "[\n{\"type\":\"invoke\",\"process\":0},\n {\"type\":\"ok\", \"value\":[1,}]",
            "bad.json: line 3: expected a value, got '}' at column 27"},
        ArrayErrorCase{"MissingComma",
                       "[{\"type\":\"invoke\",\"process\":0}\n {\"type\":\"ok\",\"process\":0}]",
                       "bad.json: line 2: expected ',' or ']' after an op in the array, got '{' "
                       "at column 2"},
        ArrayErrorCase{"Unterminated", "[{\"type\":\"invoke\",\"process\":0},\n",
                       "bad.json: line 2: expected '{' to start an op, got end of line at column "
                       "1"},
        ArrayErrorCase{"OpWithoutType", "[\n  {\"process\":0,\n   \"value\":1}]",
                       "bad.json: line 2: missing field \"type\" (expected \"invoke\", \"ok\", "
                       "\"fail\" or \"info\")"},
        ArrayErrorCase{"TextAfterTheArray", "[{\"type\":\"invoke\",\"process\":0}] x",
                       "bad.json: line 1: expected nothing after the array's closing ']', got "
                       "'x' at column 33"}),
    [](const testing::TestParamInfo<ArrayErrorCase>& p) { return p.param.name; });

}  // namespace
}  // namespace faultline::history
