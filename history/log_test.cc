#include "history/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "history/audit.h"
#include "history/crypto.h"
#include "history/jsonl.h"

namespace faultline::history {
namespace {

// A fresh directory under the system's temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "faultline-log-test-XXXXXX");
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const PrivateKey& TestKey() {
  static const PrivateKey key = *PrivateKey::Generate();
  return key;
}

const PrivateKey& OtherKey() {
  static const PrivateKey key = *PrivateKey::Generate();
  return key;
}

// Op i of a simple valid history: pairs of invoke/ok by processes 0..2, times increasing.
Op TestOp(int64_t i) {
  int64_t pair = i / 2;
  Op op{.index = -1,
        .time_ns = -1,
        .type = i % 2 == 0 ? OpType::kInvoke : OpType::kOk,
        .process = Process::Client(pair % 3),
        .f = "write",
        .key = std::nullopt,
        .value = Value::Int(pair),
        .error = std::nullopt,
        .extras = {}};
  return op;
}

struct WrittenLog {
  std::string content;
  LogSummary summary;
};

WrittenLog WriteTestLog(const TempDir& dir, int64_t ops, LogOptions options,
                        const std::string& name = "run.log") {
  std::string path = dir.File(name);
  auto writer = LogWriter::Create(path, std::move(options));
  EXPECT_TRUE(writer.has_value()) << (writer ? "" : writer.error().message());
  if (!writer) return {};
  for (int64_t i = 0; i < ops; ++i) {
    Status s = (*writer)->Append(TestOp(i));
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
  }
  auto summary = (*writer)->Close();
  EXPECT_TRUE(summary.has_value()) << (summary ? "" : summary.error().message());
  return WrittenLog{.content = ReadAll(path), .summary = summary.value_or(LogSummary{})};
}

LogOptions SignedOptions(int64_t checkpoint_every = 10) {
  LogOptions o;
  o.fsync = FsyncPolicy::kNever;
  o.signing_key = TestKey();
  o.checkpoint_every_records = checkpoint_every;
  o.checkpoint_interval = std::chrono::hours(1);
  o.meta = R"({"faultline":{"format":1,"seed":42}})";
  return o;
}

VerifyOptions WithKey() {
  VerifyOptions v;
  v.key = TestKey().public_key();
  return v;
}

// The lines of a log, each with its LF.
std::vector<std::string> Lines(std::string_view content) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string_view::npos ? content.size() : nl + 1;
    lines.emplace_back(content.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l;
  return out;
}

// Byte offset of record seq (line seq + 1, after the header).
int64_t RecordOffset(const std::vector<std::string>& lines, int64_t seq) {
  int64_t off = 0;
  for (int64_t i = 0; i < seq + 1; ++i) off += static_cast<int64_t>(lines[i].size());
  return off;
}

// Fields of a record line.
struct ParsedLine {
  std::string seq, kind, payload;
};
ParsedLine ParseLine(const std::string& line) {
  ParsedLine p;
  size_t a = line.find(' ');
  size_t b = line.find(' ', a + 1);
  size_t c = line.find(' ', b + 1);
  p.seq = line.substr(0, a);
  p.kind = line.substr(a + 1, b - a - 1);
  // payload runs to the space before the 64-hex hash and the LF.
  p.payload = line.substr(c + 1, line.size() - 1 - 65 - (c + 1));
  return p;
}

// What an attacker without the private key can do: recompute every hash (and every head named by
// a checkpoint or seal) after editing records. Signatures are kept as they were.
std::string Rechain(const std::string& content) {
  std::vector<std::string> lines = Lines(content);
  Sha256Digest prev = Sha256Of(lines[0]);
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    ParsedLine p = ParseLine(lines[i]);
    if (p.kind == "checkpoint" || p.kind == "seal") {
      size_t h = p.payload.find("\"head\":\"");
      p.payload.replace(h + 8, 64, HexEncode(prev));
    }
    std::string body =
        p.seq + " " + p.kind + " " + std::to_string(p.payload.size()) + " " + p.payload + " ";
    Sha256 sha;
    sha.Update(prev.data(), prev.size());
    sha.Update(body);
    prev = sha.Finish();
    out += body + HexEncode(prev) + "\n";
  }
  return out;
}

// Index of the first record of a kind at or after from, or -1.
int64_t FindRecord(const std::vector<std::string>& lines, const std::string& kind, int64_t from) {
  for (size_t i = static_cast<size_t>(from) + 1; i < lines.size(); ++i) {
    if (ParseLine(lines[i]).kind == kind) return static_cast<int64_t>(i) - 1;
  }
  return -1;
}

TEST(Crypto, Sha256KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256Of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 sha;
  sha.Update("a");
  sha.Update("bc");
  EXPECT_EQ(sha.Finish(), Sha256Of("abc"));
  sha.Update("abc");  // Finish leaves the object ready for the next message
  EXPECT_EQ(sha.Finish(), Sha256Of("abc"));
}

TEST(Crypto, ChainHashIsSha256OfPrevAndRecord) {
  Sha256Digest prev = Sha256Of("header\n");
  std::string joined(reinterpret_cast<const char*>(prev.data()), prev.size());
  joined += "0 meta 2 {} ";
  EXPECT_EQ(ChainHash(prev, "0 meta 2 {} "), Sha256Of(joined));
}

TEST(Crypto, HexDecodeRejectsBadInput) {
  std::array<uint8_t, 2> out{};
  EXPECT_TRUE(HexDecode("0aFf", out));
  EXPECT_EQ(out[0], 0x0a);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_FALSE(HexDecode("0a", out));
  EXPECT_FALSE(HexDecode("0aFg", out));
  EXPECT_FALSE(HexDecode("0aFf0", out));
}

TEST(Crypto, SignAndVerify) {
  auto sig = TestKey().Sign("head 1");
  ASSERT_TRUE(sig.has_value()) << sig.error().message();
  EXPECT_TRUE(TestKey().public_key().Verify("head 1", *sig));
  EXPECT_FALSE(TestKey().public_key().Verify("head 2", *sig));
  EXPECT_FALSE(OtherKey().public_key().Verify("head 1", *sig));
  Ed25519Signature bad = *sig;
  bad[10] ^= 1;
  EXPECT_FALSE(TestKey().public_key().Verify("head 1", bad));
}

TEST(Crypto, PemRoundTrip) {
  auto pem = TestKey().ToPem();
  ASSERT_TRUE(pem.has_value()) << pem.error().message();
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto back = PrivateKey::FromPem(*pem);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->public_key(), TestKey().public_key());
  auto pub_pem = TestKey().public_key().ToPem();
  ASSERT_TRUE(pub_pem.has_value());
  auto pub = PublicKey::FromPem(*pub_pem);
  ASSERT_TRUE(pub.has_value()) << pub.error().message();
  EXPECT_EQ(*pub, TestKey().public_key());
  EXPECT_FALSE(PublicKey::FromPem("not a key").has_value());
}

TEST(Crypto, KeyPairFiles) {
  TempDir dir;
  std::string keys = dir.File("keys");
  auto paths = GenerateKeyPairFiles(keys);
  ASSERT_TRUE(paths.has_value()) << paths.error().message();
  struct stat st {};
  ASSERT_EQ(stat(paths->private_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto priv = LoadPrivateKey(paths->private_key);
  ASSERT_TRUE(priv.has_value()) << priv.error().message();
  auto pub = LoadPublicKey(paths->public_key);
  ASSERT_TRUE(pub.has_value()) << pub.error().message();
  EXPECT_EQ(priv->public_key(), *pub);
  // Never overwrites a key.
  auto again = GenerateKeyPairFiles(keys);
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find("file exists"), std::string::npos);
  // A private key passed where the public one is expected gets a hint.
  auto wrong = LoadPublicKey(paths->private_key);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("faultline.pub"), std::string::npos);
  auto missing = LoadPublicKey(dir.File("nope.pub"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(LogWriter, RoundTripSignedLog) {
  TempDir dir;
  WrittenLog log = WriteTestLog(dir, 100, SignedOptions());
  EXPECT_EQ(log.summary.ops, 100);
  EXPECT_GT(log.summary.checkpoints, 5);
  EXPECT_EQ(log.content.rfind("FAULTLINE-LOG 1 ed25519 " + TestKey().public_key().Hex() + "\n", 0),
            0u);
  std::vector<std::string> lines = Lines(log.content);
  EXPECT_EQ(lines[1].rfind("0 meta ", 0), 0u) << lines[1];
  EXPECT_NE(lines.back().find(" seal "), std::string::npos) << lines.back();

  AuditReport r = VerifyLog(log.content, WithKey());
  EXPECT_EQ(r.status, AuditStatus::kIntact) << r.message;
  EXPECT_TRUE(r.authenticated());
  EXPECT_TRUE(r.sealed);
  EXPECT_TRUE(r.signatures_checked);
  EXPECT_EQ(r.signatures_verified, log.summary.checkpoints + 1);
  EXPECT_EQ(r.ops, 100);
  EXPECT_EQ(r.records, log.summary.records);
  EXPECT_EQ(r.head, log.summary.head);
  EXPECT_EQ(r.authenticated_seq, r.records - 2);
  EXPECT_EQ(r.intact_bytes, static_cast<int64_t>(log.content.size()));
  EXPECT_EQ(AuditExitCode(r, false), kAuditExitIntact);
  VerifyOptions pinned = WithKey();
  pinned.expected_head = r.head;
  std::transform(pinned.expected_head.begin(), pinned.expected_head.end(),
                 pinned.expected_head.begin(), [](char ch) { return std::toupper(ch); });
  AuditReport pinned_report = VerifyLog(log.content, pinned);
  std::string json = AuditReportToJson(pinned_report);
  EXPECT_NE(json.find(R"("status":"intact")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("head":")" + r.head), std::string::npos) << json;
  EXPECT_EQ(pinned_report.status, AuditStatus::kIntact) << pinned_report.message;

  std::string note = "unchanged";
  auto history = ReadLogHistory(log.content, "run.log", &note);
  ASSERT_TRUE(history.has_value()) << history.error().message();
  EXPECT_EQ(note, "unchanged");
  ASSERT_EQ(history->size(), 100u);
  int64_t last_time = -1;
  for (size_t i = 0; i < history->size(); ++i) {
    const Op& op = (*history)[i];
    Op want = TestOp(static_cast<int64_t>(i));
    EXPECT_EQ(op.index, static_cast<int64_t>(i));
    EXPECT_GE(op.time_ns, last_time);
    last_time = op.time_ns;
    EXPECT_EQ(op.type, want.type);
    EXPECT_EQ(op.process, want.process);
    EXPECT_EQ(op.value, want.value);
  }

  auto jsonl = ExportJsonl(log.content, "run.log");
  ASSERT_TRUE(jsonl.has_value()) << jsonl.error().message();
  EXPECT_EQ(jsonl->rfind(R"({"faultline":{"format":1,"seed":42}})"
                         "\n",
                         0),
            0u);
  JsonlReadInfo info;
  auto from_jsonl = ReadJsonlHistory(*jsonl, "export.jsonl", &info);
  ASSERT_TRUE(from_jsonl.has_value()) << from_jsonl.error().message();
  EXPECT_EQ(info.metadata.size(), 1u);
  ASSERT_EQ(from_jsonl->size(), history->size());
  for (size_t i = 0; i < history->size(); ++i) EXPECT_EQ((*from_jsonl)[i], (*history)[i]);

  // Verified from the file, through mmap, the same way.
  AuditReport from_file = VerifyLogFile(dir.File("run.log"), WithKey());
  EXPECT_EQ(from_file.status, AuditStatus::kIntact) << from_file.message;
  EXPECT_EQ(from_file.head, r.head);
}

TEST(LogWriter, UnsignedLogIsIntactWithoutKey) {
  TempDir dir;
  LogOptions o;
  o.fsync = FsyncPolicy::kNever;
  WrittenLog log = WriteTestLog(dir, 10, o);
  EXPECT_EQ(log.content.rfind("FAULTLINE-LOG 1 unsigned\n", 0), 0u);
  EXPECT_EQ(log.content.find("checkpoint"), std::string::npos);
  AuditReport r = VerifyLog(log.content);
  EXPECT_EQ(r.status, AuditStatus::kIntact) << r.message;
  EXPECT_FALSE(r.signed_log);
  EXPECT_TRUE(r.authenticated());
  EXPECT_EQ(AuditExitCode(r, false), kAuditExitIntact);
  EXPECT_NE(r.message.find("unsigned"), std::string::npos);
}

TEST(LogWriter, SignedLogWithoutKeyIsUnauthenticated) {
  TempDir dir;
  WrittenLog log = WriteTestLog(dir, 20, SignedOptions());
  AuditReport r = VerifyLog(log.content);
  EXPECT_EQ(r.status, AuditStatus::kIntact) << r.message;
  EXPECT_FALSE(r.signatures_checked);
  EXPECT_FALSE(r.authenticated());
  EXPECT_NE(r.message.find("signatures not checked"), std::string::npos) << r.message;
  EXPECT_EQ(AuditExitCode(r, false), kAuditExitUnauthenticated);
  EXPECT_EQ(AuditExitCode(r, true), kAuditExitIntact);
}

TEST(LogWriter, KeepsCallerIndexAndTime) {
  TempDir dir;
  std::string path = dir.File("run.log");
  auto writer = LogWriter::Create(path, LogOptions{});
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  Op a = TestOp(0);
  a.index = 7;
  a.time_ns = 100;
  ASSERT_TRUE((*writer)->Append(a).has_value());
  Op b = TestOp(1);
  b.index = 9;  // time stamped by the log
  ASSERT_TRUE((*writer)->Append(b).has_value());
  std::string json;
  Op c = TestOp(2);
  c.time_ns = 5;  // index assigned by the log, time kept
  AppendJsonOp(json, c);
  ASSERT_TRUE((*writer)->AppendOpJson(json).has_value());
  ASSERT_TRUE((*writer)->AppendMeta(R"({"faultline":{"phase":"end"}})").has_value());
  ASSERT_TRUE((*writer)->Close().has_value());
  std::vector<Op> ops;
  AuditReport r = VerifyLog(ReadAll(path), {}, [&](const LogRecordView& v) {
    if (v.kind == LogRecordKind::kOp) ops.push_back(*ParseJsonOp(v.payload));
  });
  ASSERT_EQ(r.status, AuditStatus::kIntact) << r.message;
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].index, 7);
  EXPECT_EQ(ops[0].time_ns, 100);
  EXPECT_EQ(ops[1].index, 9);
  EXPECT_GE(ops[1].time_ns, 0);
  EXPECT_EQ(ops[2].index, 2);
  EXPECT_EQ(ops[2].time_ns, 5);
}

TEST(LogWriter, RefusesExistingPathAndBadRecords) {
  TempDir dir;
  std::string path = dir.File("run.log");
  {
    std::ofstream f(path);
    f << "x";
  }
  auto exists = LogWriter::Create(path, LogOptions{});
  ASSERT_FALSE(exists.has_value());
  EXPECT_NE(exists.error().message().find("file exists"), std::string::npos);
  EXPECT_EQ(ReadAll(path), "x");

  LogOptions bad_meta;
  bad_meta.meta = R"({"seed":1})";
  EXPECT_FALSE(LogWriter::Create(dir.File("b.log"), bad_meta).has_value());

  auto writer = LogWriter::Create(dir.File("c.log"), LogOptions{});
  ASSERT_TRUE(writer.has_value());
  EXPECT_FALSE((*writer)->AppendOpJson("{\"type\":\"invoke\",\n\"process\":1}").has_value());
  EXPECT_FALSE((*writer)->AppendOpJson("").has_value());
  EXPECT_FALSE((*writer)->AppendMeta("[1]").has_value());
  ASSERT_TRUE((*writer)->Sync().has_value());
  ASSERT_TRUE((*writer)->Close().has_value());
  EXPECT_FALSE((*writer)->Append(TestOp(0)).has_value());
  EXPECT_FALSE((*writer)->Close().has_value());
  EXPECT_EQ(VerifyLog(ReadAll(dir.File("c.log"))).status, AuditStatus::kIntact);
}

TEST(LogWriter, SyncMakesRecordsVisible) {
  TempDir dir;
  std::string path = dir.File("run.log");
  LogOptions o;
  o.fsync = FsyncPolicy::kNever;
  auto writer = LogWriter::Create(path, o);
  ASSERT_TRUE(writer.has_value());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->Append(TestOp(i)).has_value());
  ASSERT_TRUE((*writer)->Sync().has_value());
  // Everything is on disk but there is no seal yet: a crash here leaves a crash prefix.
  AuditReport r = VerifyLog(ReadAll(path));
  EXPECT_EQ(r.status, AuditStatus::kCrashPrefix) << r.message;
  EXPECT_EQ(r.ops, 10);
  EXPECT_FALSE(r.sealed);
  EXPECT_NE(r.message.find("no seal"), std::string::npos);
  ASSERT_TRUE((*writer)->Close().has_value());
}

TEST(LogWriter, TimedCheckpointsWithoutNewRecordsStop) {
  TempDir dir;
  LogOptions o = SignedOptions(1000000);
  o.checkpoint_interval = std::chrono::milliseconds(1);
  std::string path = dir.File("run.log");
  auto writer = LogWriter::Create(path, o);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Append(TestOp(0)).has_value());
  ASSERT_TRUE((*writer)->Sync().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto summary = (*writer)->Close();
  ASSERT_TRUE(summary.has_value());
  // One checkpoint covers the op; with nothing new, no further checkpoints are written.
  EXPECT_LE(summary->checkpoints, 2);
  EXPECT_GE(summary->checkpoints, 1);
  EXPECT_EQ(VerifyLog(ReadAll(path), WithKey()).status, AuditStatus::kIntact);
}

class ConcurrentAppend : public ::testing::TestWithParam<FsyncPolicy> {};

TEST_P(ConcurrentAppend, KeepsEveryRecordAndPerThreadOrder) {
  constexpr int kThreads = 8;
  const int per_thread = GetParam() == FsyncPolicy::kEveryRecord ? 100 : 2000;
  TempDir dir;
  std::string path = dir.File("run.log");
  LogOptions o = SignedOptions(500);
  o.fsync = GetParam();
  o.fsync_interval = std::chrono::milliseconds(2);
  // Exercise back-pressure too (not with interval fsyncs, where it would only slow the test).
  if (GetParam() == FsyncPolicy::kNever) o.max_queued_bytes = 4096;
  auto writer = LogWriter::Create(path, o);
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        Op invoke{.index = -1,
                  .time_ns = -1,
                  .type = OpType::kInvoke,
                  .process = Process::Client(t),
                  .f = "write",
                  .key = std::nullopt,
                  .value = Value::Int(i),
                  .error = std::nullopt,
                  .extras = {}};
        if (!(*writer)->Append(invoke).has_value()) ++failures;
        if (!(*writer)->Append(invoke.Complete(OpType::kOk, Value::Int(i))).has_value()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto summary = (*writer)->Close();
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(summary->ops, 2 * kThreads * per_thread);

  std::string content = ReadAll(path);
  AuditReport r = VerifyLog(content, WithKey());
  ASSERT_EQ(r.status, AuditStatus::kIntact) << r.message;
  std::string note;
  auto history = ReadLogHistory(content, "run.log", &note);
  ASSERT_TRUE(history.has_value()) << history.error().message();
  ASSERT_EQ(history->size(), static_cast<size_t>(2 * kThreads * per_thread));
  std::vector<int64_t> next(kThreads, 0);
  std::vector<int> seen_type(kThreads, 0);
  for (size_t i = 0; i < history->size(); ++i) {
    const Op& op = (*history)[i];
    EXPECT_EQ(op.index, static_cast<int64_t>(i));
    int64_t t = op.process.number;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(op.value, Value::Int(next[t])) << "op " << i;
    EXPECT_EQ(op.type, seen_type[t] == 0 ? OpType::kInvoke : OpType::kOk) << "op " << i;
    if (seen_type[t] == 1) ++next[t];
    seen_type[t] ^= 1;
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], per_thread);
  EXPECT_EQ(history->open_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Policies, ConcurrentAppend,
                         ::testing::Values(FsyncPolicy::kEveryRecord, FsyncPolicy::kInterval,
                                           FsyncPolicy::kNever),
                         [](const ::testing::TestParamInfo<FsyncPolicy>& p) {
                           switch (p.param) {
                             case FsyncPolicy::kEveryRecord:
                               return std::string("EveryRecord");
                             case FsyncPolicy::kInterval:
                               return std::string("Interval");
                             case FsyncPolicy::kNever:
                               return std::string("Never");
                           }
                           return std::string("Unknown");
                         });

// A tampering case: a change to a sealed signed log (40 ops, a checkpoint every 10 records) and
// what verification must say about it.
struct TamperCase {
  std::string name;
  // Returns the tampered content; may set the first bad record it expects (its seq; the offset
  // expected is that record's offset in the tampered content, which is what the verifier reads:
  // a deleted record shifts what follows by its own length, which varies with its timestamps).
  std::function<std::string(const std::vector<std::string>& lines, int64_t* bad_seq)> tamper;
  bool with_key = true;
  AuditStatus want = AuditStatus::kTampered;
  std::string want_message;   // a substring of the report's message
  std::string expected_head;  // "same" pins the original head
  std::optional<PrivateKey> verify_key;
};

void PrintTo(const TamperCase& c, std::ostream* os) { *os << c.name; }

class Tampering : public ::testing::TestWithParam<TamperCase> {
 protected:
  static void SetUpTestSuite() {
    TempDir dir;
    original_ = new std::string(WriteTestLog(dir, 40, SignedOptions(10)).content);
  }
  static void TearDownTestSuite() {
    delete original_;
    original_ = nullptr;
  }
  static std::string* original_;
};
std::string* Tampering::original_ = nullptr;

std::string FlipInPayload(const std::vector<std::string>& lines, int64_t seq) {
  std::vector<std::string> l = lines;
  std::string& line = l[static_cast<size_t>(seq) + 1];
  size_t at = line.find("\"value\":") + 8;
  line[at] = line[at] == '1' ? '2' : '1';
  return Join(l);
}

TEST_P(Tampering, IsCaught) {
  const TamperCase& c = GetParam();
  std::vector<std::string> lines = Lines(*original_);
  int64_t bad_seq = -3;
  std::string content = c.tamper(lines, &bad_seq);
  VerifyOptions v;
  if (c.with_key) v.key = (c.verify_key ? *c.verify_key : TestKey()).public_key();
  if (c.expected_head == "same") {
    v.expected_head = VerifyLog(*original_).head;
  } else {
    v.expected_head = c.expected_head;
  }
  AuditReport r = VerifyLog(content, v);
  EXPECT_EQ(r.status, c.want) << r.message;
  EXPECT_NE(r.message.find(c.want_message), std::string::npos) << r.message;
  if (bad_seq != -3) {
    EXPECT_EQ(r.first_bad_seq, bad_seq) << r.message;
    const std::vector<std::string> tampered = Lines(content);
    ASSERT_LE(bad_seq + 1, static_cast<int64_t>(tampered.size())) << r.message;
    int64_t want_offset = bad_seq < 0 ? 0 : RecordOffset(tampered, bad_seq);
    EXPECT_EQ(r.first_bad_offset, want_offset) << r.message;
  }
  if (c.want != AuditStatus::kIntact) {
    EXPECT_NE(AuditExitCode(r, true), kAuditExitIntact);
  }
  // A log whose chain is broken is never read as a history.
  AuditReport chain_only = VerifyLog(content);
  if (chain_only.status == AuditStatus::kTampered ||
      chain_only.status == AuditStatus::kUnreadable) {
    std::string note;
    EXPECT_FALSE(ReadLogHistory(content, "t.log", &note).has_value());
  }
}

std::vector<TamperCase> TamperCases() {
  std::vector<TamperCase> cases;
  {
    TamperCase& c = cases.emplace_back();
    c.name = "FlipPayloadByte";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 5;
      return FlipInPayload(lines, 5);
    };
    c.want_message = "hash does not match";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "FlipPayloadByteWithoutKey";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 7;
      return FlipInPayload(lines, 7);
    };
    c.with_key = false;
    c.want_message = "hash does not match";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "FlipHashByte";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 5;
      auto l = lines;
      std::string& line = l[6];
      char& ch = line[line.size() - 10];
      ch = ch == 'a' ? 'b' : 'a';
      return Join(l);
    };
    c.want_message = "hash does not match";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "FlipSeqDigit";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 3;
      auto l = lines;
      l[4][0] = '4';
      return Join(l);
    };
    c.want_message = "expected record 3";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "DeleteRecord";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 5;
      auto l = lines;
      l.erase(l.begin() + 6);
      return Join(l);
    };
    c.want_message = "expected record 5 here, found record 6";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "SwapRecords";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 5;
      auto l = lines;
      std::swap(l[6], l[7]);
      return Join(l);
    };
    c.want_message = "found record 6";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "InsertRecord";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = 6;
      auto l = lines;
      l.insert(l.begin() + 7, l[6]);
      return Join(l);
    };
    c.want_message = "found record 5";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "DeleteCheckpoint";
    c.tamper = [](const auto& lines, int64_t* bad) {
      int64_t cp = FindRecord(lines, "checkpoint", 0);
      *bad = cp;
      auto l = lines;
      l.erase(l.begin() + cp + 1);
      return Join(l);
    };
    c.want_message = "expected record";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "RechainedEditWithKey";
    c.tamper = [](const auto& lines, int64_t* bad) {
      // The first signature after the edit no longer matches.
      *bad = FindRecord(lines, "checkpoint", 5);
      return Rechain(FlipInPayload(lines, 5));
    };
    c.want_message = "signature does not verify";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "RechainedEditWithoutKey";
    c.tamper = [](const auto& lines, int64_t*) { return Rechain(FlipInPayload(lines, 5)); };
    c.with_key = false;
    c.want = AuditStatus::kIntact;
    c.want_message = "signatures not checked";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "RechainedEditWithPinnedHead";
    c.tamper = [](const auto& lines, int64_t*) { return Rechain(FlipInPayload(lines, 5)); };
    c.with_key = false;
    c.want_message = "is not the expected head";
    c.expected_head = "same";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "RechainedDeleteWithKey";
    c.tamper = [](const auto& lines, int64_t* bad) {
      // Delete record 5 and renumber everything after it.
      std::vector<std::string> l;
      l.push_back(lines[0]);
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i == 6) continue;
        ParsedLine p = ParseLine(lines[i]);
        int64_t seq = static_cast<int64_t>(l.size()) - 1;
        if (p.kind == "checkpoint" || p.kind == "seal") {
          size_t s = p.payload.find("\"seq\":") + 6;
          size_t e = p.payload.find(',', s);
          p.payload.replace(s, e - s, std::to_string(seq - 1));
        }
        l.push_back(std::to_string(seq) + " " + p.kind + " " + std::to_string(p.payload.size()) +
                    " " + p.payload + " " + std::string(64, '0') + "\n");
      }
      *bad = FindRecord(lines, "checkpoint", 5) - 1;
      return Rechain(Join(l));
    };
    c.want_message = "signature does not verify";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "ForgedCheckpointSignature";
    c.tamper = [](const auto& lines, int64_t* bad) {
      int64_t cp = FindRecord(lines, "checkpoint", 0);
      *bad = cp;
      auto l = lines;
      std::string& line = l[static_cast<size_t>(cp) + 1];
      size_t at = line.find("\"sig\":\"") + 12;
      line[at] = line[at] == '0' ? '1' : '0';
      return Rechain(Join(l));
    };
    c.want_message = "checkpoint signature does not verify";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "WrongKey";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = -1;
      return Join(lines);
    };
    c.want_message = "not by the given key";
    c.verify_key = OtherKey();
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "HeaderKeySwappedToVerifier";
    c.tamper = [](const auto& lines, int64_t* bad) {
      // The attacker names their own key in the header and re-signs nothing.
      auto l = lines;
      l[0] = "FAULTLINE-LOG 1 ed25519 " + OtherKey().public_key().Hex() + "\n";
      *bad = FindRecord(lines, "checkpoint", 0);
      return Rechain(Join(l));
    };
    c.want_message = "signature does not verify";
    c.verify_key = OtherKey();
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "SignaturesStripped";
    c.tamper = [](const auto& lines, int64_t* bad) {
      std::vector<std::string> l;
      l.push_back("FAULTLINE-LOG 1 unsigned\n");
      for (size_t i = 1; i < lines.size(); ++i) {
        ParsedLine p = ParseLine(lines[i]);
        if (p.kind == "checkpoint") continue;
        l.push_back(lines[i]);
      }
      *bad = -1;
      return Join(l);
    };
    c.want_message = "unsigned but a key was given";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "DataAfterSeal";
    c.tamper = [](const auto& lines, int64_t* bad) {
      *bad = static_cast<int64_t>(lines.size()) - 1;
      return Join(lines) + Join(lines).substr(lines[0].size(), lines[1].size());
    };
    c.want_message = "after the seal";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "ExpectedHeadMismatch";
    c.tamper = [](const auto& lines, int64_t*) { return Join(lines); };
    c.want_message = "is not the expected head";
    c.expected_head = std::string(64, 'a');
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "MagicChanged";
    c.tamper = [](const auto& lines, int64_t*) {
      auto l = lines;
      l[0][0] = 'G';
      return Join(l);
    };
    c.want = AuditStatus::kUnreadable;
    c.want_message = "not a faultline log";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "FutureVersion";
    c.tamper = [](const auto& lines, int64_t*) {
      auto l = lines;
      l[0].replace(14, 1, "2");
      return Join(l);
    };
    c.want = AuditStatus::kUnreadable;
    c.want_message = "version 2 is not supported";
  }
  {
    TamperCase& c = cases.emplace_back();
    c.name = "SealRemoved";
    c.tamper = [](const auto& lines, int64_t* bad) {
      auto l = lines;
      l.pop_back();
      *bad = static_cast<int64_t>(l.size()) - 1;
      return Join(l);
    };
    c.want = AuditStatus::kCrashPrefix;
    c.want_message = "no seal";
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Cases, Tampering, ::testing::ValuesIn(TamperCases()),
                         [](const ::testing::TestParamInfo<TamperCase>& p) {
                           return p.param.name;
                         });

TEST(TornTail, EveryTruncationOfTheLastTwoRecordsIsACrashPrefix) {
  TempDir dir;
  WrittenLog log = WriteTestLog(dir, 30, SignedOptions(10));
  std::vector<std::string> lines = Lines(log.content);
  size_t n = lines.size();
  int64_t start = RecordOffset(lines, static_cast<int64_t>(n) - 3);  // second-to-last record
  for (size_t cut = static_cast<size_t>(start); cut < log.content.size(); ++cut) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " bytes");
    std::string content = log.content.substr(0, cut);
    AuditReport r = VerifyLog(content, WithKey());
    ASSERT_EQ(r.status, AuditStatus::kCrashPrefix) << r.message;
    EXPECT_FALSE(r.sealed);
    // The intact prefix is every whole line before the cut.
    int64_t whole = 0;
    int64_t bytes = 0;
    while (bytes + static_cast<int64_t>(lines[static_cast<size_t>(whole) + 1].size()) <=
           static_cast<int64_t>(cut) - static_cast<int64_t>(lines[0].size())) {
      bytes += static_cast<int64_t>(lines[static_cast<size_t>(whole) + 1].size());
      ++whole;
    }
    EXPECT_EQ(r.records, whole);
    EXPECT_EQ(r.intact_bytes, static_cast<int64_t>(lines[0].size()) + bytes);
    bool at_boundary = r.intact_bytes == static_cast<int64_t>(cut);
    if (at_boundary) {
      EXPECT_NE(r.message.find("no seal"), std::string::npos) << r.message;
    } else {
      EXPECT_EQ(r.first_bad_seq, whole);
      EXPECT_EQ(r.first_bad_offset, r.intact_bytes);
      EXPECT_NE(r.message.find("torn record at byte offset " + std::to_string(r.intact_bytes)),
                std::string::npos)
          << r.message;
    }
    // Authenticated up to the last checkpoint still in the intact prefix.
    int64_t last_cp = -1;
    for (int64_t s = 0; s < whole; ++s) {
      if (ParseLine(lines[static_cast<size_t>(s) + 1]).kind == "checkpoint") last_cp = s - 1;
    }
    EXPECT_EQ(r.authenticated_seq, last_cp);
    EXPECT_NE(r.message.find("authenticated up to record " + std::to_string(last_cp)),
              std::string::npos)
        << r.message;
    EXPECT_EQ(AuditExitCode(r, true), kAuditExitCrashPrefix);

    std::string note;
    auto history = ReadLogHistory(content, "crashed.log", &note);
    ASSERT_TRUE(history.has_value()) << history.error().message();
    EXPECT_EQ(note.rfind("crash prefix: " + std::to_string(whole) + " records intact", 0), 0u)
        << note;
    int64_t ops = 0;
    for (int64_t s = 0; s < whole; ++s) {
      if (ParseLine(lines[static_cast<size_t>(s) + 1]).kind == "op") ++ops;
    }
    EXPECT_EQ(static_cast<int64_t>(history->size()), ops);
  }
}

TEST(TornTail, HeaderOnlyAndEmpty) {
  AuditReport empty = VerifyLog("");
  EXPECT_EQ(empty.status, AuditStatus::kUnreadable);
  EXPECT_EQ(AuditExitCode(empty, true), kAuditExitUnreadable);
  AuditReport torn_header = VerifyLog("FAULTLINE-LOG 1 unsig");
  EXPECT_EQ(torn_header.status, AuditStatus::kCrashPrefix) << torn_header.message;
  AuditReport header_only = VerifyLog("FAULTLINE-LOG 1 unsigned\n");
  EXPECT_EQ(header_only.status, AuditStatus::kCrashPrefix) << header_only.message;
  EXPECT_EQ(header_only.records, 0);
  AuditReport jsonl = VerifyLog("{\"type\":\"invoke\",\"process\":0}\n");
  EXPECT_EQ(jsonl.status, AuditStatus::kUnreadable);
  std::string note;
  EXPECT_FALSE(ReadLogHistory("{}\n", "x.jsonl", &note).has_value());
  AuditReport missing = VerifyLogFile("/nonexistent/faultline.log");
  EXPECT_EQ(missing.status, AuditStatus::kUnreadable);
  EXPECT_NE(missing.message.find("/nonexistent/faultline.log"), std::string::npos);
}

TEST(RandomCorruption, NeverIntact) {
  constexpr uint32_t kSeed = 20261128;
  TempDir dir;
  WrittenLog log = WriteTestLog(dir, 60, SignedOptions(7));
  std::mt19937 rng(kSeed);
  for (int iter = 0; iter < 600; ++iter) {
    std::string content = log.content;
    int flips = 1 + static_cast<int>(rng() % 3);
    std::string where;
    for (int f = 0; f < flips; ++f) {
      size_t pos = rng() % content.size();
      auto mask = static_cast<char>(1 + rng() % 255);
      content[pos] = static_cast<char>(content[pos] ^ mask);
      where += " " + std::to_string(pos);
    }
    SCOPED_TRACE("seed " + std::to_string(kSeed) + " iteration " + std::to_string(iter) +
                 " flipped bytes at" + where);
    AuditReport with_key = VerifyLog(content, WithKey());
    ASSERT_NE(with_key.status, AuditStatus::kIntact) << with_key.message;
    ASSERT_NE(AuditExitCode(with_key, false), kAuditExitIntact);
    AuditReport without_key = VerifyLog(content);
    ASSERT_NE(without_key.status, AuditStatus::kIntact) << without_key.message;
  }
}

TEST(WriteHistoryLog, ConvertsAHistory) {
  TempDir dir;
  std::vector<Op> ops;
  for (int i = 0; i < 20; ++i) {
    Op op = TestOp(i);
    op.index = i;
    op.time_ns = 1000 * i;
    ops.push_back(op);
  }
  auto history = History::Build(ops);
  ASSERT_TRUE(history.has_value()) << history.error().message();
  auto summary = WriteHistoryLog(dir.File("h.log"), *history,
                                 {R"({"faultline":{"seed":1}})", R"({"faultline":{"x":2}})"});
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(summary->ops, 20);
  std::string content = ReadAll(dir.File("h.log"));
  std::string note;
  auto back = ReadLogHistory(content, "h.log", &note);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_EQ(back->size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ((*back)[i], (*history)[i]);
  auto jsonl = ExportJsonl(content, "h.log");
  ASSERT_TRUE(jsonl.has_value());
  EXPECT_EQ(*jsonl, std::string(R"({"faultline":{"seed":1}})"
                                "\n"
                                R"({"faultline":{"x":2}})"
                                "\n") +
                        WriteJsonlHistory(*history));
}

}  // namespace
}  // namespace faultline::history
