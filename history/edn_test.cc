#include "history/edn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace faultline::history {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Value Kw(const char* name) { return Value::Keyword(name); }
Value Str(const char* s) { return Value::String(s); }
Value I(int64_t i) { return Value::Int(i); }
Value Vec(std::vector<Value> items) { return Value::Vector(std::move(items)); }

// The example lines of FORMATS.md §1.6.
constexpr std::string_view kExampleLines[] = {
    R"({:index 0, :time 1203344, :type :invoke, :process 0, :f :write, :value 3})",
    R"({:index 1, :time 1450021, :type :invoke, :process 1, :f :cas, :value [2 1]})",
    R"({:index 2, :time 2210087, :type :ok, :process 0, :f :write, :value 3})",
    R"({:index 3, :time 2390115, :type :fail, :process 1, :f :cas, :value [2 1], :error :mismatch})",
    R"({:index 4, :time 4000000000, :type :info, :process :nemesis, :f :start-partition, :value :majority})",
    R"({:index 5, :time 4000521113, :type :info, :process :nemesis, :f :start-partition, :value [:isolated {"n1" #{"n3"}, "n2" #{"n3"}, "n3" #{"n1" "n2"}}]})",
    R"({:index 6, :time 4100000000, :type :invoke, :process 2, :f :write, :value 4})",
    R"({:index 7, :time 9100000000, :type :info, :process 2, :f :write, :value 4, :error :timeout})",
    R"({:type :invoke, :f :cas, :value [7 [1 2]], :process 5} ; independent key 7; no :index or :time)",
    R"({:type :ok, :f :cas, :process 5, :value [7 [1 2]], :time 12000000000N, :seen #{"n1" "n2"}, :note #_ "gone" "kept", :probe #acme.Probe{:lag 1.5M}})",
};

std::string ExampleFile() {
  std::string text;
  for (std::string_view line : kExampleLines) {
    text += line;
    text += '\n';
  }
  return text;
}

// What the generic path gives: every form through OpFromMap, then History::Build. The fast path
// of ReadEdnHistory must give the same ops.
std::vector<Op> GenericOps(std::string_view text) {
  Result<std::vector<EdnForm>> forms = ParseEdnForms(text, "generic");
  EXPECT_TRUE(forms.has_value()) << forms.error().message();
  if (!forms) return {};
  std::vector<Op> ops;
  for (const EdnForm& form : *forms) {
    Result<Op> op = OpFromMap(form.value);
    EXPECT_TRUE(op.has_value()) << op.error().message();
    if (!op) return {};
    ops.push_back(std::move(*op));
  }
  Result<History> h = History::Build(std::move(ops));
  EXPECT_TRUE(h.has_value()) << h.error().message();
  if (!h) return {};
  return std::vector<Op>(h->ops().begin(), h->ops().end());
}

// ---------------------------------------------------------------------------------------------
// Values.

struct ValueCase {
  std::string name;
  std::string text;
  Value want;
};

void PrintTo(const ValueCase& c, std::ostream* os) { *os << c.text; }

class EdnValueTest : public testing::TestWithParam<ValueCase> {};

TEST_P(EdnValueTest, Parses) {
  Result<Value> v = ParseEdn(GetParam().text, "t.edn");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v, GetParam().want) << v->ToEdn();
}

TEST_P(EdnValueTest, RoundTripsThroughToEdn) {
  const Value& want = GetParam().want;
  Result<Value> v = ParseEdn(want.ToEdn(), "t.edn");
  ASSERT_TRUE(v.has_value()) << want.ToEdn() << ": " << v.error().message();
  EXPECT_EQ(*v, want) << want.ToEdn();
}

std::vector<ValueCase> ValueCases() {
  const Value inst = Value::Tagged("inst", Str("2024-01-02T03:04:05.000-00:00"));
  return {
      {"Nil", "nil", Value::Nil()},
      {"True", "true", Value::Bool(true)},
      {"False", " false ", Value::Bool(false)},
      {"Int", "42", I(42)},
      {"Zero", "0", I(0)},
      {"Negative", "-17", I(-17)},
      {"PlusSign", "+5", I(5)},
      {"Int64Max", "9223372036854775807", I(std::numeric_limits<int64_t>::max())},
      {"Int64Min", "-9223372036854775808", I(std::numeric_limits<int64_t>::min())},
      {"EighteenDigits", "-999999999999999999", I(-999999999999999999)},
      {"NineteenDigits", "1000000000000000000", I(1000000000000000000)},
      {"LeadingZeros", "007", I(7)},
      {"IntWithN", "2N", I(2)},
      {"BigWithN", "12000000000000000000000N", Value::BigInt("12000000000000000000000")},
      {"BigOverflow", "9223372036854775808", Value::BigInt("9223372036854775808")},
      {"BigOverflowNegative", "-9223372036854775809", Value::BigInt("-9223372036854775809")},
      {"BigHuge", "-123456789012345678901234567890",
       Value::BigInt("-123456789012345678901234567890")},
      {"Double", "1.5", Value::Double(1.5)},
      {"DoubleNegative", "-0.25", Value::Double(-0.25)},
      {"DoubleExponent", "1e3", Value::Double(1000.0)},
      {"DoubleBoth", "2.5E-2", Value::Double(0.025)},
      {"DoublePlusExponent", "1.0e+2", Value::Double(100.0)},
      {"Decimal", "1.5M", Value::Decimal("1.5")},
      {"DecimalInteger", "2M", Value::Decimal("2")},
      {"DecimalNegative", "-0.10M", Value::Decimal("-0.10")},
      {"Inf", "##Inf", Value::Double(std::numeric_limits<double>::infinity())},
      {"NegInf", "##-Inf", Value::Double(-std::numeric_limits<double>::infinity())},
      {"Ratio", "1/3", Value::Ratio("1/3")},
      {"RatioNegative", "-22/7", Value::Ratio("-22/7")},
      {"String", R"("hello")", Str("hello")},
      {"EmptyString", R"("")", Str("")},
      {"Escapes", R"("a\"b\\c\nd\te\rf\bg\fh")", Str("a\"b\\c\nd\te\rf\bg\fh")},
      {"UnicodeEscape", R"("caf\u00e9 \u20AC")", Str("caf\xC3\xA9 \xE2\x82\xAC")},
      {"SurrogatePair", R"("\ud83d\ude00")", Str("\xF0\x9F\x98\x80")},
      {"RawUtf8", "\"Gr\xC3\xBC\xC3\x9F \xE6\x97\xA5\"", Str("Gr\xC3\xBC\xC3\x9F \xE6\x97\xA5")},
      {"LiteralNewline", "\"two\nlines\"", Str("two\nlines")},
      {"Delimiters", R"("#{[(;,)]} #_ :x")", Str("#{[(;,)]} #_ :x")},
      {"CharLetter", R"(\a)", Value::Char("a")},
      {"CharNewline", R"(\newline)", Value::Char("\n")},
      {"CharSpace", R"(\space)", Value::Char(" ")},
      {"CharTab", R"(\tab)", Value::Char("\t")},
      {"CharReturn", R"(\return)", Value::Char("\r")},
      {"CharUnicode", R"(\u00e9)", Value::Char("\xC3\xA9")},
      {"CharPunctuation", R"([\( \,])", Vec({Value::Char("("), Value::Char(",")})},
      {"Keyword", ":read", Kw("read")},
      {"KeywordPunctuation", ":valid?", Kw("valid?")},
      {"KeywordDigits", ":PL-2.99", Kw("PL-2.99")},
      {"NamespacedKeyword", ":jepsen.client/timeout", Kw("jepsen.client/timeout")},
      {"Symbol", "java.net.SocketTimeoutException",
       Value::Symbol("java.net.SocketTimeoutException")},
      {"SymbolInit", "<init>", Value::Symbol("<init>")},
      {"SymbolPlus", "+", Value::Symbol("+")},
      {"SymbolMinus", "-", Value::Symbol("-")},
      {"SymbolMinusWord", "-main", Value::Symbol("-main")},
      {"SymbolNamespaced", "clojure.core/swap!", Value::Symbol("clojure.core/swap!")},
      {"SymbolSlash", "/", Value::Symbol("/")},
      {"List", "(1 :a \"b\")", Value::List({I(1), Kw("a"), Str("b")})},
      {"EmptyList", "()", Value::List({})},
      {"Vector", "[1 [2 3] nil]", Vec({I(1), Vec({I(2), I(3)}), Value::Nil()})},
      {"EmptyVector", "[ ]", Vec({})},
      {"Map", "{:a 1, :b [2]}", Value::Map({Kw("a"), I(1), Kw("b"), Vec({I(2)})})},
      {"EmptyMap", "{}", Value::Map({})},
      {"MapNonKeywordKeys", R"({"n1" 1, 2 :two, [1 2] #{3}, nil nil})",
       Value::Map({Str("n1"), I(1), I(2), Kw("two"), Vec({I(1), I(2)}), Value::Set({I(3)}),
                   Value::Nil(), Value::Nil()})},
      {"MapOrderKept", "{:z 1 :a 2}", Value::Map({Kw("z"), I(1), Kw("a"), I(2)})},
      {"Set", R"(#{"n3" "n1"})", Value::Set({Str("n3"), Str("n1")})},
      {"EmptySet", "#{}", Value::Set({})},
      {"Inst", R"(#inst "2024-01-02T03:04:05.000-00:00")", inst},
      {"Uuid", R"(#uuid "6ba7b810-9dad-11d1-80b4-00c04fd430c8")",
       Value::Tagged("uuid", Str("6ba7b810-9dad-11d1-80b4-00c04fd430c8"))},
      {"RecordTag", "#knossos.model.CASRegister{:value 0}",
       Value::Tagged("knossos.model.CASRegister", Value::Map({Kw("value"), I(0)}))},
      {"Object", R"(#object[clojure.lang.Atom 0x6a1b3b1c {:status :ready, :val 1}])",
       Value::Tagged("object", Vec({Value::Symbol("clojure.lang.Atom"), I(0x6a1b3b1c),
                                    Value::Map({Kw("status"), Kw("ready"), Kw("val"), I(1)})}))},
      {"Unprintable", R"(#unprintable "#<Thread>")",
       Value::Tagged("unprintable", Str("#<Thread>"))},
      {"NestedTags", R"([#inst "2024-01-02T03:04:05.000-00:00" #foo/bar #baz 1])",
       Vec({inst, Value::Tagged("foo/bar", Value::Tagged("baz", I(1)))})},
      {"Commas", ",,[1,2,,3],", Vec({I(1), I(2), I(3)})},
      {"Comments", "; lead\n[1 ; one\n 2] ; trail", Vec({I(1), I(2)})},
      {"Discard", "[1 #_ 2 3]", Vec({I(1), I(3)})},
      {"DiscardTwice", "[#_ #_ a b c]", Vec({Value::Symbol("c")})},
      {"DiscardCollection", "#_ {:a [1 2]} :kept", Kw("kept")},
      {"DiscardInMap", "{:a #_ :b 1}", Value::Map({Kw("a"), I(1)})},
      {"Exception",
       R"({:via [{:type java.net.SocketTimeoutException, :at [a.B <init> "B.java" 12]}]})",
       Value::Map(
           {Kw("via"),
            Vec({Value::Map(
                {Kw("type"), Value::Symbol("java.net.SocketTimeoutException"), Kw("at"),
                 Vec({Value::Symbol("a.B"), Value::Symbol("<init>"), Str("B.java"), I(12)})})})})},
  };
}

INSTANTIATE_TEST_SUITE_P(Values, EdnValueTest, testing::ValuesIn(ValueCases()),
                         [](const testing::TestParamInfo<ValueCase>& p) { return p.param.name; });

TEST(EdnValue, NaN) {
  Result<Value> v = ParseEdn("##NaN");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  ASSERT_EQ(v->kind(), ValueKind::kDouble);
  EXPECT_TRUE(std::isnan(v->as_double()));
  Result<Value> back = ParseEdn(v->ToEdn());
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_EQ(back->kind(), ValueKind::kDouble);
  EXPECT_TRUE(std::isnan(back->as_double()));
}

TEST(EdnValue, DoublesRoundTrip) {
  for (double d : {0.1, -3.0, 1e300, 5e-324, 123456.789, 1.0 / 3.0}) {
    const Value v = Value::Double(d);
    Result<Value> back = ParseEdn(v.ToEdn());
    ASSERT_TRUE(back.has_value()) << v.ToEdn() << ": " << back.error().message();
    EXPECT_EQ(*back, v) << v.ToEdn();
  }
}

TEST(EdnValue, StringsWithEveryByteRoundTrip) {
  std::string s;
  for (int c = 1; c < 0x80; ++c) s += static_cast<char>(c);
  s += "\xC3\xA9\xF0\x9F\x98\x80";
  const Value v = Value::String(s);
  Result<Value> back = ParseEdn(v.ToEdn());
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, v);
}

TEST(EdnValue, FormsReportTheirLines) {
  Result<std::vector<EdnForm>> forms =
      ParseEdnForms("; header\n:a\n\n[1\n 2] \"x\ny\" 3\n#_ 4\n", "f.edn");
  ASSERT_TRUE(forms.has_value()) << forms.error().message();
  ASSERT_EQ(forms->size(), 4u);
  EXPECT_EQ((*forms)[0].line, 2);
  EXPECT_EQ((*forms)[1].line, 4);
  EXPECT_EQ((*forms)[2].line, 5);
  EXPECT_EQ((*forms)[2].value, Str("x\ny"));
  EXPECT_EQ((*forms)[3].line, 6);
  EXPECT_EQ((*forms)[3].value, I(3));
}

TEST(EdnValue, EmptyInputHasNoForms) {
  Result<std::vector<EdnForm>> forms = ParseEdnForms(" ; nothing\n, #_ 1\n", "f.edn");
  ASSERT_TRUE(forms.has_value()) << forms.error().message();
  EXPECT_TRUE(forms->empty());
}

// ---------------------------------------------------------------------------------------------
// Malformed values.

struct ErrorCase {
  std::string name;
  std::string text;
  std::string want;  // the whole message, or a prefix of it when it ends with "..."
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.text; }

class EdnErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(EdnErrorTest, SaysWhereAndWhat) {
  Result<Value> v = ParseEdn(GetParam().text, "h.edn");
  ASSERT_FALSE(v.has_value()) << v->ToEdn();
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);
  const std::string& want = GetParam().want;
  if (want.ends_with("...")) {
    EXPECT_THAT(v.error().message(), StartsWith(want.substr(0, want.size() - 3)));
  } else {
    EXPECT_EQ(v.error().message(), want);
  }
}

std::vector<ErrorCase> ErrorCases() {
  return {
      {"Empty", "  ", "h.edn: line 1: column 3: expected a form, got end of input"},
      {"TwoForms", "1 2", "h.edn: line 1: column 3: expected end of input after one form, got '2'"},
      {"UnterminatedString", "[:a\n :b \"abc",
       "h.edn: line 2: column 9: expected '\"' to end the string starting at line 2 column 5, got "
       "end of input"},
      {"UnterminatedVector", "[1 2\n 3",
       "h.edn: line 2: column 3: expected ']' to close the vector starting at line 1, got end of "
       "input"},
      {"UnterminatedMap", "{:a 1", "h.edn: line 1: column 6: expected '}' to close the map..."},
      {"Mismatched", "[1 2)",
       "h.edn: line 1: column 5: expected ']' to close the vector starting at line 1, got ')'"},
      {"StrayCloser", "}", "h.edn: line 1: column 1: expected a form, got '}'"},
      {"OddMap", "{:a 1 :b}",
       "h.edn: line 1: column 9: expected a value for the key :b of the map starting at line 1, "
       "got '}'"},
      {"BadEscape", R"("ab\q")",
       "h.edn: line 1: column 5: expected one of the escapes \\\" \\\\ \\n \\t \\r \\b \\f "
       "\\uXXXX after '\\' in a string, got 'q'"},
      {"ShortUnicodeEscape", R"("\u12")",
       "h.edn: line 1: column 2: expected four hex digits after \\u in a string, as in \\u00e9"},
      {"LoneHighSurrogate", R"("\ud83d x")",
       "h.edn: line 1: column 2: expected a low surrogate \\uDC00 to \\uDFFF after the high "
       "surrogate \\ud83d in a string"},
      {"LoneLowSurrogate", R"("\ude00")",
       "h.edn: line 1: column 2: expected a high surrogate before the low surrogate \\ude00 in a "
       "string"},
      {"NamespacedMap", "[1 #:ns{:a 1}]",
       "h.edn: line 1: column 4: expected a form, got a namespaced map '#:ns{...}' (not "
       "supported: write the keys in full, as {:ns/key 1})"},
      {"ReaderConditional", "\n  #?(:clj 1)",
       "h.edn: line 2: column 3: expected a form, got a reader conditional '#?' (not supported)"},
      {"AutoKeyword", "::a",
       "h.edn: line 1: column 1: expected a keyword such as :name or :ns/name, got an "
       "auto-resolved keyword '::' (not supported)"},
      {"EmptyKeyword", ": a",
       "h.edn: line 1: column 2: expected a keyword name after ':', got ' '"},
      {"BadNumber", "[12abc]",
       "h.edn: line 1: column 2: expected a number such as 12, -3, 2N, 1.5, 1e-3, 1.5M or 1/3, got "
       "'12abc'"},
      {"BadExponent", "1e", "h.edn: line 1: column 1: expected a number such as..."},
      {"ZeroDenominator", "1/0",
       "h.edn: line 1: column 1: expected a ratio with a non-zero denominator, got '1/0'"},
      {"BadSymbolic", "##Infinity",
       "h.edn: line 1: column 1: expected ##Inf, ##-Inf or ##NaN, got '##Infinity'"},
      {"Regex", "#\"a+\"",
       "h.edn: line 1: column 2: expected a set #{...}, a discard #_, ##Inf..."},
      {"TagWithoutForm", "[#inst]",
       "h.edn: line 1: column 7: expected a form after the tag #inst, got ']'"},
      {"DiscardWithoutForm", "[1 #_]",
       "h.edn: line 1: column 6: expected a form to discard after #_, got ']'"},
      {"BadChar", R"(\foo)",
       "h.edn: line 1: column 1: expected a character such as \\a, \\newline, \\space, \\tab or "
       "\\uXXXX, got '\\foo'"},
      {"ColumnCountsCharacters", "\"\xC3\xA9\xC3\xA9\" )",
       "h.edn: line 1: column 6: expected end of input after one form, got ')'"},
      {"ControlByte", "\x01", "h.edn: line 1: column 1: expected a form, got byte 0x01"},
      {"TooDeep", std::string(600, '['),
       "h.edn: line 1: column 513: forms nested deeper than 512..."},
  };
}

INSTANTIATE_TEST_SUITE_P(Malformed, EdnErrorTest, testing::ValuesIn(ErrorCases()),
                         [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

// ---------------------------------------------------------------------------------------------
// Histories.

TEST(ReadEdnHistory, ExampleLinesOfFormats) {
  const std::string text = ExampleFile();
  Result<History> h = ReadEdnHistory(text, "example.edn");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  ASSERT_EQ(h->size(), 10u);
  EXPECT_EQ(h->source_name(), "example.edn");
  for (size_t i = 0; i < h->size(); ++i) {
    EXPECT_EQ((*h)[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(h->line(i), static_cast<int64_t>(i + 1));
  }
  const Op& first = (*h)[0];
  EXPECT_EQ(first.time_ns, 1203344);
  EXPECT_EQ(first.type, OpType::kInvoke);
  EXPECT_EQ(first.process, Process::Client(0));
  EXPECT_EQ(first.f, "write");
  EXPECT_EQ(first.value, I(3));
  EXPECT_EQ(h->partner(0), 2u);
  EXPECT_EQ(h->partner(1), 3u);
  EXPECT_EQ((*h)[3].error, Kw("mismatch"));
  // The two nemesis :info lines pair with each other.
  EXPECT_EQ((*h)[4].process, Process::Nemesis());
  EXPECT_EQ(h->partner(4), 5u);
  EXPECT_EQ(h->partner(5), 4u);
  const Value grudge =
      Value::Map({Str("n1"), Value::Set({Str("n3")}), Str("n2"), Value::Set({Str("n3")}), Str("n3"),
                  Value::Set({Str("n1"), Str("n2")})});
  EXPECT_EQ((*h)[5].value, Vec({Kw("isolated"), grudge}));
  EXPECT_EQ((*h)[7].type, OpType::kInfo);
  EXPECT_EQ((*h)[7].error, Kw("timeout"));
  EXPECT_EQ(h->partner(6), 7u);
  // No :index or :time.
  EXPECT_EQ((*h)[8].time_ns, -1);
  EXPECT_EQ((*h)[8].process, Process::Client(5));
  EXPECT_EQ(h->partner(8), 9u);
  const Op& last = (*h)[9];
  EXPECT_EQ(last.time_ns, 12000000000);
  EXPECT_EQ(last.value, Vec({I(7), Vec({I(1), I(2)})}));
  ASSERT_EQ(last.extras.size(), 3u);
  EXPECT_EQ(last.extras[0], (Field{Kw("seen"), Value::Set({Str("n1"), Str("n2")})}));
  EXPECT_EQ(last.extras[1], (Field{Kw("note"), Str("kept")}));
  EXPECT_EQ(last.extras[2],
            (Field{Kw("probe"),
                   Value::Tagged("acme.Probe", Value::Map({Kw("lag"), Value::Decimal("1.5")}))}));
}

// Op maps that the fast path reads itself, and some that it hands to OpFromMap.
TEST(ReadEdnHistory, FastPathEqualsOpFromMap) {
  std::vector<std::string> texts = {ExampleFile()};
  texts.push_back(
      "{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n"
      "{:value \"\", :f :get, :process 0, :type :ok, :key \"3\"}\n"
      "{:type :invoke, :process :nemesis, :f nil, :value nil, 1 2, \"s\" [3], :x/y #{}}\n"
      "{:type :info, :process :nemesis, :error nil, :key nil}\n"
      "{:index 7 :type :invoke :process \"named\" :f :read :value nil :end-process? true}\n"
      "{:index 8, :type :info, :process named, :f :read, :exception {:via [{:type a.B}]}}\n"
      "{:index 9, :time 5, :type :invoke, :process 3, :f :write, :value 1.5M, :error [:a \"b\"]}\n"
      "{:index 10, :time 6, #_ :x #_ 1 :type :ok, :process 3, ; comment\n"
      " :f :write, :value 1.5M}\n");
  for (const std::string& text : texts) {
    Result<History> h = ReadEdnHistory(text, "fast.edn");
    ASSERT_TRUE(h.has_value()) << h.error().message();
    const std::vector<Op> want = GenericOps(text);
    ASSERT_EQ(h->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*h)[i], want[i]) << "op " << i << ": " << Describe(want[i]);
    }
  }
}

// Cut anywhere, the example file gives a history or an error naming the source and a line.
TEST(ReadEdnHistory, EveryPrefixGivesHistoryOrError) {
  const std::string text = ExampleFile();
  int errors = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    Result<History> h = ReadEdnHistory(std::string_view(text).substr(0, n), "cut.edn");
    if (!h) {
      EXPECT_THAT(h.error().message(), StartsWith("cut.edn: line ")) << n;
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

struct FramingCase {
  std::string name;
  std::string text;
  std::vector<int64_t> lines;  // of each op
};

void PrintTo(const FramingCase& c, std::ostream* os) { *os << c.name; }

class EdnFramingTest : public testing::TestWithParam<FramingCase> {};

TEST_P(EdnFramingTest, ReadsTheSameOps) {
  Result<History> h = ReadEdnHistory(GetParam().text, "framing.edn");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  ASSERT_EQ(h->size(), GetParam().lines.size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ(h->line(i), GetParam().lines[i]) << i;
  if (h->size() == 2) {
    EXPECT_EQ((*h)[0], (Op{.index = 0,
                           .time_ns = -1,
                           .type = OpType::kInvoke,
                           .process = Process::Client(0),
                           .f = "read",
                           .key = std::nullopt,
                           .value = Value::Nil(),
                           .error = std::nullopt,
                           .extras = {}}));
    EXPECT_EQ((*h)[1].type, OpType::kOk);
    EXPECT_EQ((*h)[1].value, I(1));
    EXPECT_EQ(h->partner(0), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Framings, EdnFramingTest,
    testing::Values(
        FramingCase{"OnePerLine",
                    "{:type :invoke, :process 0, :f :read, :value nil}\n"
                    "{:type :ok, :process 0, :f :read, :value 1}\n",
                    {1, 2}},
        FramingCase{"NoFinalNewline",
                    "{:type :invoke, :process 0, :f :read, :value nil}\n"
                    "{:type :ok, :process 0, :f :read, :value 1}",
                    {1, 2}},
        FramingCase{"CrLf",
                    "{:type :invoke, :process 0, :f :read, :value nil}\r\n"
                    "{:type :ok, :process 0, :f :read, :value 1}\r\n",
                    {1, 2}},
        FramingCase{"WholeVector",
                    "[{:type :invoke, :process 0, :f :read, :value nil}\n"
                    " {:type :ok, :process 0, :f :read, :value 1}]\n",
                    {1, 2}},
        FramingCase{"List",
                    "; a hand-made history\n(\n  {:type :invoke, :process 0, :f :read}\n\n"
                    "  {:type :ok,\n   :process 0, :f :read, :value 1})",
                    {3, 5}},
        FramingCase{"MultiLineStream",
                    ";; header comment\n"
                    "{:type :invoke,\n :process 0, ; who\n :f :read}\n"
                    "; between ops\n#_ {:type :ok, :process 9}\n"
                    "{:type :ok, :process 0,\n :f :read, :value 1} ; trailing\n",
                    {2, 7}},
        FramingCase{"SeveralPerLine",
                    "{:type :invoke, :process 0, :f :read} {:type :ok, :process 0, :f :read, "
                    ":value 1}",
                    {1, 1}},
        FramingCase{"Empty", "", {}}, FramingCase{"OnlyComments", "; nothing\n\n, ;\n", {}},
        FramingCase{"EmptyVector", "[]\n", {}}),
    [](const testing::TestParamInfo<FramingCase>& p) { return p.param.name; });

struct HistoryErrorCase {
  std::string name;
  std::string text;
  std::string want;
};

void PrintTo(const HistoryErrorCase& c, std::ostream* os) { *os << c.name; }

class EdnHistoryErrorTest : public testing::TestWithParam<HistoryErrorCase> {};

TEST_P(EdnHistoryErrorTest, SaysWhereAndWhat) {
  Result<History> h = ReadEdnHistory(GetParam().text, "history.edn");
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().code(), ErrorCode::kInvalidArgument);
  const std::string& want = GetParam().want;
  if (want.ends_with("...")) {
    EXPECT_THAT(h.error().message(), StartsWith(want.substr(0, want.size() - 3)));
  } else {
    EXPECT_EQ(h.error().message(), want);
  }
}

constexpr const char* kOp = "{:type :invoke, :process 0, :f :read, :value nil}\n";

INSTANTIATE_TEST_SUITE_P(
    Malformed, EdnHistoryErrorTest,
    testing::Values(
        HistoryErrorCase{"NonMapOp", std::string(kOp) + "\n[1 2]\n",
                         "history.edn: line 3: op is not a map: expected a map such as {:type "
                         ":invoke, :process 0, :f :read, :value nil}, got a vector"},
        HistoryErrorCase{"NonMapInVector", "[{:type :invoke, :process 0}\n :oops]",
                         "history.edn: line 2: op is not a map: expected a map such as {:type "
                         ":invoke, :process 0, :f :read, :value nil}, got a keyword"},
        HistoryErrorCase{"VectorThenMore", std::string("[") + kOp + "]\n" + kOp,
                         "history.edn: line 1: op is not a map: expected a map such as {:type "
                         ":invoke, :process 0, :f :read, :value nil}, got a vector"},
        HistoryErrorCase{"BadType", std::string(kOp) + "{:type :done, :process 0}",
                         "history.edn: line 2: :type must be one of :invoke :ok :fail :info, got "
                         ":done"},
        HistoryErrorCase{"MissingType", "\n\n{:process 0, :f :read}",
                         "history.edn: line 3: missing :type..."},
        HistoryErrorCase{"DuplicateKey", "{:type :invoke, :process 0, :type :ok}",
                         "history.edn: line 1: duplicate key :type"},
        HistoryErrorCase{"BadIndexInVector",
                         "[{:type :invoke, :process 0}\n {:index :x, :type :ok, "
                         ":process 0}]",
                         "history.edn: line 2: :index must be an integer, got :x"},
        HistoryErrorCase{"UnterminatedString",
                         std::string(kOp) + std::string(kOp) + "{:type :ok, :value \"abc}\n",
                         "history.edn: line 4: column 1: expected '\"' to end the string starting "
                         "at line 3 column 20, got end of input"},
        HistoryErrorCase{"OddMap", "{:type :invoke, :process}",
                         "history.edn: line 1: column 25: expected a value for the key :process "
                         "of the map starting at line 1, got '}'"},
        HistoryErrorCase{"UnterminatedOp", "{:type :invoke, :process 0",
                         "history.edn: line 1: column 27: expected '}' to close the map starting "
                         "at line 1, got end of input"},
        HistoryErrorCase{"NamespacedMap", "#:jepsen{:type :invoke}",
                         "history.edn: line 1: column 1: expected a form, got a namespaced map..."},
        HistoryErrorCase{"ReaderConditional", "{:type #?(:clj :ok), :process 0}",
                         "history.edn: line 1: column 8: expected a form, got a reader "
                         "conditional '#?' (not supported)"},
        HistoryErrorCase{"Pairing", std::string(kOp) + kOp,
                         "history.edn: line 2: process 0 invokes..."}),
    [](const testing::TestParamInfo<HistoryErrorCase>& p) { return p.param.name; });

// ---------------------------------------------------------------------------------------------
// Writers.

TEST(WriteEdn, OpLineFieldOrder) {
  Op op{.index = 0,
        .time_ns = 5,
        .type = OpType::kInvoke,
        .process = Process::Client(0),
        .f = "write",
        .key = std::nullopt,
        .value = I(3),
        .error = std::nullopt,
        .extras = {}};
  std::string out;
  AppendEdnOp(out, op);
  EXPECT_EQ(out, "{:index 0, :time 5, :type :invoke, :process 0, :f :write, :value 3}");

  Op full{.index = -1,
          .time_ns = -1,
          .type = OpType::kInfo,
          .process = Process::Nemesis(),
          .f = "",
          .key = Str("k"),
          .value = Value::Nil(),
          .error = Kw("timeout"),
          .extras = {Field{Kw("z"), I(1)}, Field{Str("a"), Vec({})}}};
  out.clear();
  AppendEdnOp(out, full);
  EXPECT_EQ(out,
            "{:type :info, :process :nemesis, :key \"k\", :value nil, :error :timeout, :z 1, \"a\" "
            "[]}");
}

TEST(WriteEdn, ExampleLinesRoundTrip) {
  // Lines already in the writer's field order come back byte for byte.
  for (int i : {0, 1, 2, 3, 4, 5, 6, 7}) {
    const std::string text(kExampleLines[i]);
    Result<std::vector<EdnForm>> forms = ParseEdnForms(text, "line");
    ASSERT_TRUE(forms.has_value()) << forms.error().message();
    ASSERT_EQ(forms->size(), 1u);
    Result<Op> op = OpFromMap((*forms)[0].value);
    ASSERT_TRUE(op.has_value()) << op.error().message();
    std::string out;
    AppendEdnOp(out, *op);
    EXPECT_EQ(out, text);
  }
}

TEST(WriteEdn, HistoryRoundTrip) {
  Result<History> h = ReadEdnHistory(ExampleFile(), "example.edn");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  const std::string written = WriteEdnHistory(*h);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back(), '\n');
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 10);
  Result<History> again = ReadEdnHistory(written, "written.edn");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  ASSERT_EQ(again->size(), h->size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ((*again)[i], (*h)[i]) << i;
  EXPECT_EQ(WriteEdnHistory(*again), written);
}

TEST(WriteEdn, EmptyHistory) {
  Result<History> h = ReadEdnHistory("", "empty.edn");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  EXPECT_EQ(WriteEdnHistory(*h), "");
}

// Every value kind as an op's value, key, error and extra survives write then read.
TEST(WriteEdn, EveryValueKindRoundTripsInOps) {
  std::vector<Op> ops;
  int64_t index = 0;
  for (const ValueCase& c : ValueCases()) {
    Op invoke{.index = index++,
              .time_ns = 10 * index,
              .type = OpType::kInvoke,
              .process = Process::Client(1),
              .f = "probe",
              .key = c.want,
              .value = c.want,
              .error = std::nullopt,
              .extras = {Field{c.want, c.want}}};
    Op done = invoke.Complete(OpType::kFail, c.want);
    done.index = index++;
    done.time_ns = 10 * index;
    done.error = c.want;
    done.extras.push_back(Field{Kw("end-process?"), Value::Bool(false)});
    ops.push_back(std::move(invoke));
    ops.push_back(std::move(done));
  }
  ops.push_back(Op{.index = index++,
                   .time_ns = -1,
                   .type = OpType::kInfo,
                   .process = Process::Named("odd name"),
                   .f = "read",
                   .key = std::nullopt,
                   .value = Value::Nil(),
                   .error = std::nullopt,
                   .extras = {}});
  Result<History> h = History::Build(ops);
  ASSERT_TRUE(h.has_value()) << h.error().message();
  const std::string written = WriteEdnHistory(*h);
  Result<History> back = ReadEdnHistory(written, "written.edn");
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_EQ(back->size(), h->size());
  for (size_t i = 0; i < h->size(); ++i) EXPECT_EQ((*back)[i], (*h)[i]) << "line " << i + 1;
  // A process name that cannot be a keyword is written as a string.
  EXPECT_THAT(written, HasSubstr(":process \"odd name\""));
}

}  // namespace
}  // namespace faultline::history
