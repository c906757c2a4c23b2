// The system file (parsing, placeholders) and the exec client protocol against fake client
// programs (no root, no cluster).
#include "systems/system_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "client/exec.h"
#include "systems/registry.h"

namespace faultline::systems {
namespace {

using history::OpType;
using history::Value;
using ::testing::HasSubstr;

constexpr std::string_view kValid = R"json({
  "name": "kv", "nodes": 3, "client_port": 7001,
  "commands": {"start": "server --node {node} --listen {address}:{port} --peers {peers}",
               "stop": "kill $(cat {log_dir}/pid)", "kill": "kill -9 $(cat {log_dir}/pid)",
               "pid": "cat {log_dir}/pid", "wipe": "rm -rf {data_dir}/*",
               "is_up": "nc -z {address} {port}"},
  "logs": ["{log_dir}/server.log"], "workloads": ["register", "set"],
  "client": "exec:python3 client.py --cluster {cluster}"
})json";

TEST(SystemFileTest, ParsesEveryField) {
  Result<SystemFile> f = ParseSystemFile(kValid, "/tmp/x/kv.json");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->name, "kv");
  EXPECT_EQ(f->nodes, 3);
  EXPECT_EQ(f->client_port, 7001);
  EXPECT_EQ(f->dir, "/tmp/x");
  EXPECT_EQ(f->commands.pause, "");
  EXPECT_EQ(f->logs, std::vector<std::string>{"{log_dir}/server.log"});
  EXPECT_EQ(f->workloads, (std::vector<std::string>{"register", "set"}));
  EXPECT_EQ(f->client, "exec:python3 client.py --cluster {cluster}");
}

struct BadCase {
  std::string name;
  std::string from;  // replaced in kValid
  std::string to;
  std::string expect;  // in the error
};

class SystemFileBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SystemFileBadTest, NamesFileAndField) {
  std::string text(kValid);
  const size_t at = text.find(GetParam().from);
  ASSERT_NE(at, std::string::npos) << GetParam().from;
  text.replace(at, GetParam().from.size(), GetParam().to);
  Result<SystemFile> f = ParseSystemFile(text, "kv.json");
  ASSERT_FALSE(f);
  EXPECT_THAT(f.error().message(), HasSubstr("kv.json"));
  EXPECT_THAT(f.error().message(), HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SystemFileBadTest,
    ::testing::Values(
        BadCase{"MissingPort", "\"client_port\": 7001,", "", "field \"client_port\": missing"},
        BadCase{"PortRange", "\"client_port\": 7001", "\"client_port\": 70000",
                "70000 is not in 1..65535"},
        BadCase{"NodesNotInt", "\"nodes\": 3", "\"nodes\": \"3\"",
                "field \"nodes\": expected an integer"},
        BadCase{"UnknownCommand", "\"start\": \"server", "\"begin\": \"server",
                "commands.begin\": unknown command"},
        BadCase{"MissingStop", "\"stop\":", "\"pause\":", "field \"commands.stop\": missing"},
        BadCase{"UnknownPlaceholder", "{peers}", "{peer}",
                "commands.start\": unknown placeholder {peer}"},
        BadCase{"ClientNotExec", "exec:python3", "python3", "expected exec:COMMAND"},
        BadCase{"UnknownWorkload", "\"set\"]", "\"bank\"]", "'bank' (expected register or set)"},
        BadCase{"BadName", "\"name\": \"kv\"", "\"name\": \"K V\"", "field \"name\""},
        BadCase{"UnknownField", "\"logs\"", "\"log\"", "field \"log\": unknown field"},
        BadCase{"NotJson", "\"kv\", \"nodes\"", "\"kv\" \"nodes\"", "not JSON"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return p.param.name; });

TEST(PlaceholderTest, ExpandsKnownNamesAndLeavesOtherBraces) {
  Placeholders p{{"node", "n2"}, {"peers", "a:1,b:1"}};
  Result<std::string> s = ExpandPlaceholders("x {node} ${HOME} {1} {} {peers}{node}", p);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(*s, "x n2 ${HOME} {1} {} a:1,b:1n2");
  Result<std::string> bad = ExpandPlaceholders("echo {nod}", p);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("unknown placeholder {nod}"));
}

TEST(RegistryTest, BuiltinAndFileNames) {
  EXPECT_TRUE(IsSystemFile("examples/kv/kv.json"));
  EXPECT_TRUE(IsSystemFile("kv.json"));
  EXPECT_FALSE(IsSystemFile("etcd"));
  Result<std::unique_ptr<System>> etcd = OpenSystem("etcd");
  ASSERT_TRUE(etcd) << etcd.error().message();
  EXPECT_EQ((*etcd)->Info().name, "etcd");
  EXPECT_TRUE((*etcd)->CheckWorkload("lock").has_value());
  Result<std::unique_ptr<System>> unknown = OpenSystem("cassandra");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message(),
              HasSubstr("not a built-in system (etcd, redis, zookeeper)"));
  Result<std::unique_ptr<System>> missing = OpenSystem("/nonexistent/kv.json");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("/nonexistent/kv.json"));
  Result<SystemFile> f = ParseSystemFile(kValid, "kv.json");
  ASSERT_TRUE(f);
  std::unique_ptr<System> kv = MakeFileSystem(*f);
  EXPECT_TRUE(kv->CheckWorkload("set").has_value());
  Status lock = kv->CheckWorkload("lock");
  ASSERT_FALSE(lock.has_value());
  EXPECT_THAT(lock.error().message(), HasSubstr("it supports: register, set"));
}

// A fake client program: answers per its first argument.
constexpr std::string_view kFakeClient = R"py(import json, os, sys, time
mode = sys.argv[1]
print("fake client on " + os.environ["FAULTLINE_NODE"] + " " + os.environ["FAULTLINE_ADDRESS"] +
      ":" + os.environ["FAULTLINE_PORT"] + " of " + os.environ["FAULTLINE_NODES"],
      file=sys.stderr, flush=True)
for line in sys.stdin:
    op = json.loads(line)
    if mode == "stuck" or (mode == "once" and op["id"] > 1):
        time.sleep(60)
        continue
    if mode == "ok" or mode == "once":
        value = {"read": 3, "write": None, "cas": None}[op["f"]]
        if op["workload"] == "set" and op["f"] == "read":
            value = [3, 1, 2]
        out = {"id": op["id"], "type": "ok", "value": value}
    elif mode == "fail":
        out = {"id": op["id"], "type": "fail", "error": "cas mismatch"}
    elif mode == "garbage":
        print("hello there", flush=True)
        continue
    elif mode == "wrong-id":
        out = {"id": op["id"] + 5, "type": "ok"}
    elif mode == "die":
        print("panic: out of cheese", file=sys.stderr, flush=True)
        sys.exit(3)
    print(json.dumps(out), flush=True)
)py";

class ExecClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("faultline-exec-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "fake.py") << kFakeClient;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the ops through one client of a factory whose program runs in `mode`.
  std::vector<client::Completion> Run(const std::string& mode, std::vector<history::Op> ops,
                                      std::string workload = "register",
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    client::ExecClientOptions o;
    o.command = "python3 fake.py " + mode;
    o.dir = dir_.string();
    o.endpoints = {{.node = "n1", .address = "198.18.0.1", .port = 7001},
                   {.node = "n2", .address = "198.18.0.2", .port = 7001}};
    o.workload = std::move(workload);
    o.timeout = timeout;
    o.stderr_dir = (dir_ / "clients").string();
    Result<std::unique_ptr<client::ClientFactory>> f = client::MakeExecClientFactory(o);
    EXPECT_TRUE(f) << f.error().message();
    boost::asio::io_context io;
    Result<std::unique_ptr<client::Client>> c = (*f)->Open(history::Process::Client(3), io);
    EXPECT_TRUE(c);
    std::vector<client::Completion> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          for (history::Op& op : ops) out.push_back(co_await (*c)->Invoke(op));
        },
        boost::asio::detached);
    io.run();
    (*c)->Close();
    return out;
  }

  static history::Op Invoke(std::string f, Value value) {
    history::Op op;
    op.type = OpType::kInvoke;
    op.process = history::Process::Client(3);
    op.f = std::move(f);
    op.key = Value::String("k/1");
    op.value = std::move(value);
    return op;
  }

  std::filesystem::path dir_;
};

TEST_F(ExecClientTest, OkAnswersCarryReadValuesAndInvokedArguments) {
  auto c = Run("ok", {Invoke("read", Value()), Invoke("write", Value::Int(4)),
                      Invoke("cas", Value::Vector({Value::Int(4), Value::Int(5)}))});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].op.type, OpType::kOk);
  EXPECT_EQ(c[0].op.value, Value::Int(3));
  EXPECT_EQ(c[0].node, "n2");  // process 3 of 2 nodes
  EXPECT_EQ(c[1].op.type, OpType::kOk);
  EXPECT_EQ(c[1].op.value, Value::Int(4));
  EXPECT_EQ(c[2].op.value, Value::Vector({Value::Int(4), Value::Int(5)}));
  // The program saw its node in the environment.
  std::ifstream err(dir_ / "clients" / "3.stderr");
  std::string line;
  std::getline(err, line);
  EXPECT_EQ(line, "fake client on n2 198.18.0.2:7001 of 198.18.0.1:7001,198.18.0.2:7001");
}

TEST_F(ExecClientTest, SetReadIsASortedSet) {
  auto c = Run("ok", {Invoke("read", Value())}, "set");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].op.type, OpType::kOk);
  EXPECT_EQ(c[0].op.value, Value::Set({Value::Int(1), Value::Int(2), Value::Int(3)}));
}

TEST_F(ExecClientTest, FailKeepsTheProgramsError) {
  auto c = Run("fail", {Invoke("cas", Value::Vector({Value::Int(1), Value::Int(2)}))});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].op.type, OpType::kFail);
  EXPECT_EQ(c[0].op.ErrorText(), "cas mismatch");
}

TEST_F(ExecClientTest, GarbageIsInfo) {
  auto c = Run("garbage", {Invoke("read", Value())});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].op.type, OpType::kInfo);
  EXPECT_THAT(c[0].op.ErrorText(), HasSubstr("garbage (not JSON): hello there"));
}

TEST_F(ExecClientTest, WrongIdIsInfo) {
  auto c = Run("wrong-id", {Invoke("write", Value::Int(1))});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].op.type, OpType::kInfo);
  EXPECT_THAT(c[0].op.ErrorText(), HasSubstr("expected id 1"));
}

TEST_F(ExecClientTest, DyingProgramIsInfoWithItsStderr) {
  auto c = Run("die", {Invoke("write", Value::Int(1)), Invoke("read", Value())});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].op.type, OpType::kInfo);
  EXPECT_THAT(c[0].op.ErrorText(), HasSubstr("closed its stdout"));
  EXPECT_THAT(c[0].op.ErrorText(), HasSubstr("panic: out of cheese"));
  // The next op starts a new program (which dies as well).
  EXPECT_EQ(c[1].op.type, OpType::kInfo);
}

TEST_F(ExecClientTest, StuckProgramTimesOutAsInfo) {
  const auto t0 = std::chrono::steady_clock::now();
  // The first op of a program gets 3 s more (its start); the second one the timeout alone.
  auto c =
      Run("stuck", {Invoke("write", Value::Int(1))}, "register", std::chrono::milliseconds(300));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].op.type, OpType::kInfo);
  EXPECT_THAT(c[0].op.ErrorText(), HasSubstr("timeout after 3300 ms"));
  auto once = Run("once", {Invoke("write", Value::Int(1)), Invoke("write", Value::Int(2))},
                  "register", std::chrono::milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(once.size(), 2u);
  EXPECT_EQ(once[0].op.type, OpType::kOk);
  EXPECT_EQ(once[1].op.type, OpType::kInfo);
  EXPECT_THAT(once[1].op.ErrorText(), HasSubstr("timeout after 300 ms"));
  EXPECT_LT(took, std::chrono::seconds(10));  // the program sleeps 60 s; it was not waited for
}

TEST_F(ExecClientTest, MissingProgramIsInfo) {
  auto c = Run("ok", {Invoke("read", Value())});
  ASSERT_EQ(c.size(), 1u);
  std::filesystem::remove(dir_ / "fake.py");
  auto gone = Run("ok", {Invoke("read", Value())});
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].op.type, OpType::kInfo);
  EXPECT_THAT(gone[0].op.ErrorText(), HasSubstr("fake.py"));  // python3's complaint on stderr
}

}  // namespace
}  // namespace faultline::systems
