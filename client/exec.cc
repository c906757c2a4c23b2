#include "client/exec.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/process.h"
#include "common/shell.h"

namespace faultline::client {
namespace {

namespace asio = boost::asio;
using history::OpType;
using history::Value;
using history::ValueKind;
using Json = nlohmann::json;

constexpr std::chrono::milliseconds kStartAllowance{3000};

// Writing to a program that has exited must give EPIPE, not end faultline with SIGPIPE: the
// io_context thread keeps SIGPIPE blocked, and one raised by a failed write is discarded.
void BlockSigpipe() {
  thread_local bool blocked = false;
  if (blocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  blocked = true;
}
void DiscardSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
}

Result<Json> ToJson(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNil:
      return Json(nullptr);
    case ValueKind::kInt:
      return Json(v.as_int());
    case ValueKind::kString:
      return Json(std::string(v.text()));
    case ValueKind::kList:
    case ValueKind::kVector:
    case ValueKind::kSet: {
      Json a = Json::array();
      for (const Value& item : v.items()) {
        FAULTLINE_ASSIGN_OR_RETURN(Json j, ToJson(item));
        a.push_back(std::move(j));
      }
      return a;
    }
    default:
      return MakeError(ErrorCode::kInvalidArgument, "value not expressible in the exec protocol");
  }
}

// The last few lines of a program's stderr file ("" if none).
std::string StderrTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > 600 ? size - 600 : 0;
  in.seekg(from);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  if (from > 0) {
    const size_t nl = tail.find('\n');
    if (nl != std::string::npos) tail = tail.substr(nl + 1);
  }
  for (char& c : tail) {
    if (c == '\n') c = '|';
  }
  return tail;
}

// The program's pipes, shared with the timeout handler (which may run after the client is gone).
struct Pipes {
  explicit Pipes(asio::io_context& io) : in(io), out(io) {}
  asio::posix::stream_descriptor in;
  asio::posix::stream_descriptor out;
  std::string buffer;
  bool timed_out = false;
};

class ExecClient final : public Client {
 public:
  ExecClient(const ExecClientOptions& options, history::Process process, asio::io_context& io)
      : options_(options), process_(std::move(process)), io_(io) {
    const auto n = static_cast<std::int64_t>(options_.endpoints.size());
    const auto i = static_cast<size_t>(((process_.number % n) + n) % n);
    endpoint_ = options_.endpoints[i];
    stderr_path_ = fmt::format("{}/{}.stderr", options_.stderr_dir, process_.ToString());
  }
  ~ExecClient() override { Close(); }

  asio::awaitable<Completion> Invoke(history::Op invoke) override {
    const auto start = std::chrono::steady_clock::now();
    Completion c;
    c.node = endpoint_.node;
    auto finish = [&](OpType type, Value value, std::string error) {
      c.op = invoke.Complete(type, std::move(value));
      if (!error.empty()) c.op.error = Value::String(std::move(error));
      c.latency = std::chrono::steady_clock::now() - start;
    };
    auto info = [&](std::string why) {
      const std::string tail = StderrTail(stderr_path_);
      finish(OpType::kInfo, invoke.value,
             tail.empty() ? why : fmt::format("{}; stderr: {}", why, tail));
      Close();
    };

    Result<Json> value = ToJson(invoke.value);
    Result<Json> key = invoke.key ? ToJson(*invoke.key) : Result<Json>(Json(nullptr));
    if (!value || !key) {
      finish(OpType::kFail, invoke.value, "unsent: value not expressible in the exec protocol");
      co_return c;
    }
    // A program just started gets kStartAllowance on top of the timeout for its first answer, so
    // that a slow interpreter start is not taken for a stuck op (and every op after an info, which
    // needs a new program, does not time out for the same reason).
    std::chrono::milliseconds limit = options_.timeout;
    if (!pipes_) {
      limit += kStartAllowance;
      if (Status s = Start(); !s) {
        info(fmt::format("client program: {}", s.error().message()));
        co_return c;
      }
    }
    const std::int64_t id = ++next_id_;
    Json request = {{"id", id},
                    {"process", process_.number},
                    {"workload", options_.workload},
                    {"f", invoke.f},
                    {"key", *key},
                    {"value", *value}};
    const std::string line = request.dump() + "\n";

    std::shared_ptr<Pipes> pipes = pipes_;
    asio::steady_timer timer(io_, limit);
    timer.async_wait([weak = std::weak_ptr<Pipes>(pipes)](boost::system::error_code ec) {
      if (ec) return;
      if (auto p = weak.lock()) {
        p->timed_out = true;
        boost::system::error_code ignored;
        p->in.cancel(ignored);
        p->out.cancel(ignored);
      }
    });

    BlockSigpipe();
    boost::system::error_code ec;
    co_await asio::async_write(pipes->in, asio::buffer(line),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      DiscardSigpipe();
      timer.cancel();
      info(pipes->timed_out
               ? fmt::format("timeout after {} ms (writing the op)", limit.count())
               : fmt::format("client program gone: write: {}{}", ec.message(), ExitNote()));
      co_return c;
    }
    const std::size_t n =
        co_await asio::async_read_until(pipes->out, asio::dynamic_buffer(pipes->buffer), '\n',
                                        asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (ec) {
      if (pipes->timed_out) {
        info(fmt::format("timeout after {} ms", limit.count()));
      } else if (ec == asio::error::eof) {
        info(fmt::format("client program closed its stdout{}", ExitNote()));
      } else {
        info(fmt::format("client program: read: {}", ec.message()));
      }
      co_return c;
    }
    std::string answer = pipes->buffer.substr(0, n - 1);
    pipes->buffer.erase(0, n);
    Result<std::pair<OpType, Value>> parsed = ParseAnswer(answer, id, invoke);
    if (!parsed) {
      info(parsed.error().message());
      co_return c;
    }
    std::string error;
    try {
      const Json j = Json::parse(answer);
      auto e = j.find("error");
      if (e != j.end() && !e->is_null()) error = e->is_string() ? e->get<std::string>() : e->dump();
    } catch (const Json::exception&) {
    }
    if (parsed->first == OpType::kInfo) {
      info(error.empty() ? "info from client program" : error);
      co_return c;
    }
    finish(parsed->first, std::move(parsed->second), std::move(error));
    co_return c;
  }

  void Close() override {
    if (pipes_) {
      boost::system::error_code ignored;
      pipes_->in.close(ignored);
      pipes_->out.close(ignored);
      pipes_.reset();
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }

 private:
  Status Start() {
    std::string nodes;
    for (const ExecEndpoint& e : options_.endpoints) {
      nodes += fmt::format("{}{}:{}", nodes.empty() ? "" : ",", e.address, e.port);
    }
    std::string script = fmt::format("exec 2>>{}", ShellQuote(stderr_path_));
    if (!options_.dir.empty()) script += fmt::format(" && cd {}", ShellQuote(options_.dir));
    script += fmt::format(" && exec {}", options_.command);
    std::vector<std::string> argv = {"env",
                                     fmt::format("FAULTLINE_NODE={}", endpoint_.node),
                                     fmt::format("FAULTLINE_ADDRESS={}", endpoint_.address),
                                     fmt::format("FAULTLINE_PORT={}", endpoint_.port),
                                     fmt::format("FAULTLINE_NODES={}", nodes),
                                     "/bin/sh",
                                     "-c",
                                     script};
    FAULTLINE_ASSIGN_OR_RETURN(
        Child child, Spawn(argv, {.in = Stdio::kPipe, .out = Stdio::kPipe, .err = Stdio::kNull}));
    pid_ = child.pid;
    auto pipes = std::make_shared<Pipes>(io_);
    pipes->in.assign(child.in.Release());
    pipes->out.assign(child.out.Release());
    pipes_ = std::move(pipes);
    return OkStatus();
  }

  // ", exit code 3" once the program has exited ("" while it runs).
  std::string ExitNote() {
    if (pid_ <= 0) return "";
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return "";
    pid_ = -1;
    if (WIFSIGNALED(status)) return fmt::format(" (it was ended by signal {})", WTERMSIG(status));
    return fmt::format(" (it exited with code {})", WEXITSTATUS(status));
  }

  // The answer's type and the completion's value, or why the line is not an answer to op `id`.
  Result<std::pair<OpType, Value>> ParseAnswer(const std::string& line, std::int64_t id,
                                               const history::Op& invoke) const {
    auto garbage = [&](std::string_view why) {
      std::string shown = line.size() > 200 ? line.substr(0, 200) + "..." : line;
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("client program answered garbage ({}): {}", why, shown));
    };
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::exception&) {
      return garbage("not JSON");
    }
    if (!j.is_object()) return garbage("not a JSON object");
    auto jid = j.find("id");
    if (jid == j.end() || !jid->is_number_integer() || jid->get<std::int64_t>() != id) {
      return garbage(fmt::format("expected id {}", id));
    }
    auto jtype = j.find("type");
    if (jtype == j.end() || !jtype->is_string()) return garbage("no \"type\"");
    const std::string type = jtype->get<std::string>();
    OpType t;
    if (type == "ok") {
      t = OpType::kOk;
    } else if (type == "fail") {
      t = OpType::kFail;
    } else if (type == "info") {
      t = OpType::kInfo;
    } else {
      return garbage("type must be ok, fail or info");
    }
    if (t != OpType::kOk || invoke.f != "read") return std::pair{t, invoke.value};
    const Json v = j.value("value", Json(nullptr));
    if (options_.workload == "set") {
      if (!v.is_array()) return garbage("a set read's value must be a list of integers");
      std::vector<std::int64_t> ints;
      for (const Json& e : v) {
        if (!e.is_number_integer()) return garbage("a set read's value must be a list of integers");
        ints.push_back(e.get<std::int64_t>());
      }
      std::sort(ints.begin(), ints.end());
      ints.erase(std::unique(ints.begin(), ints.end()), ints.end());
      std::vector<Value> items;
      for (std::int64_t i : ints) items.push_back(Value::Int(i));
      return std::pair{t, Value::Set(std::move(items))};
    }
    if (v.is_null()) return std::pair{t, Value::Nil()};
    if (!v.is_number_integer())
      return garbage("a register read's value must be an integer or null");
    return std::pair{t, Value::Int(v.get<std::int64_t>())};
  }

  const ExecClientOptions& options_;
  history::Process process_;
  asio::io_context& io_;
  ExecEndpoint endpoint_;
  std::string stderr_path_;
  std::shared_ptr<Pipes> pipes_;
  pid_t pid_ = -1;
  std::int64_t next_id_ = 0;
};

class ExecClientFactory final : public ClientFactory {
 public:
  explicit ExecClientFactory(ExecClientOptions options) : options_(std::move(options)) {}

  Result<std::unique_ptr<Client>> Open(const history::Process& process,
                                       asio::io_context& io) override {
    return std::unique_ptr<Client>(std::make_unique<ExecClient>(options_, process, io));
  }

 private:
  const ExecClientOptions options_;
};

}  // namespace

Result<std::unique_ptr<ClientFactory>> MakeExecClientFactory(ExecClientOptions options) {
  if (options.command.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "exec client: no command given");
  }
  if (options.endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "exec client: no nodes given");
  }
  if (options.workload != "register" && options.workload != "set") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("exec client: workload '{}' (expected register or set)", options.workload));
  }
  if (options.stderr_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "exec client: no stderr directory given");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.stderr_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("exec client: create {}: {}", options.stderr_dir, ec.message()));
  }
  return std::unique_ptr<ClientFactory>(std::make_unique<ExecClientFactory>(std::move(options)));
}

}  // namespace faultline::client
