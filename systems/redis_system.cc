// Redis 7 with Sentinel as a System (issue 14 §2): Debian's redis-server and redis-sentinel started
// in each node's namespace, one primary (the first node at start) and replicas on the others, a
// Sentinel on every node; client/redis.h's client finds the primary through the Sentinels. While
// the cluster runs, a thread on the control host polls every Sentinel and every server, so that
// the run's account can name the failovers and the acknowledged writes they cost.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "client/redis.h"
#include "common/parallel.h"
#include "history/fields.h"
#include "history/log.h"
#include "history/txn.h"
#include "systems/internal/builtin.h"
#include "systems/internal/redis.h"
#include "systems/registry.h"

namespace faultline::systems::internal {
namespace {

using Json = nlohmann::ordered_json;
using history::Op;
using history::OpType;
using history::Value;

constexpr std::chrono::milliseconds kProbeTimeout{400};
constexpr std::chrono::milliseconds kPollTimeout{200};
constexpr std::chrono::milliseconds kPollEvery{250};

struct OptionRow {
  std::string_view key;
  std::string_view help;
};
constexpr OptionRow kOptionRows[] = {
    {"min-replicas-to-write=N",
     "the primary refuses writes (-NOREPLICAS) unless N replicas acknowledged within "
     "min-replicas-max-lag (default 0: never refuses)"},
    {"min-replicas-max-lag=S", "seconds a replica may lag and still count (default 10)"},
    {"wait=N", "the client sends WAIT N after each write; fewer acks in time: info (default 0)"},
    {"wait-timeout-ms=MS", "WAIT's timeout (default 500)"},
    {"appendonly=yes|no", "the append-only file (default no)"},
    {"appendfsync=always|everysec|no", "when the AOF is fsynced (default everysec)"},
    {"down-after-ms=MS", "Sentinel's down-after-milliseconds (default 1000)"},
    {"failover-timeout-ms=MS",
     "Sentinel's failover-timeout, at most 10000 (default 2000; a failover that finds no "
     "replica with fresh INFO is retried after twice this)"},
};

Result<int> IntOption(std::string_view key, std::string_view value, int lo, int hi) {
  int n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < lo || n > hi) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system redis: option {}={}: expected an integer in {}..{}", key,
                                 value, lo, hi));
  }
  return n;
}

std::string Seconds(int64_t ns, int64_t start_ns) {
  return fmt::format("{:.1f} s", static_cast<double>(ns - start_ns) / 1e9);
}

}  // namespace

std::vector<std::string> RedisOptionHelp() {
  std::vector<std::string> out;
  for (const OptionRow& r : kOptionRows) out.push_back(fmt::format("{:<31} {}", r.key, r.help));
  return out;
}

Result<RedisOptions> ParseRedisOptions(const std::vector<std::string>& options) {
  RedisOptions o;
  for (const std::string& text : options) {
    const size_t eq = text.find('=');
    const std::string key = text.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
    if (eq == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("system redis: option '{}': expected KEY=VALUE", text));
    }
    if (key == "min-replicas-to-write") {
      FAULTLINE_ASSIGN_OR_RETURN(o.min_replicas_to_write, IntOption(key, value, 0, 8));
    } else if (key == "min-replicas-max-lag") {
      FAULTLINE_ASSIGN_OR_RETURN(o.min_replicas_max_lag, IntOption(key, value, 1, 3600));
    } else if (key == "wait") {
      FAULTLINE_ASSIGN_OR_RETURN(o.wait, IntOption(key, value, 0, 8));
    } else if (key == "wait-timeout-ms") {
      FAULTLINE_ASSIGN_OR_RETURN(o.wait_timeout_ms, IntOption(key, value, 1, 60000));
    } else if (key == "appendonly") {
      if (value != "yes" && value != "no") {
        return MakeError(
            ErrorCode::kInvalidArgument,
            fmt::format("system redis: option appendonly={}: expected yes or no", value));
      }
      o.appendonly = value == "yes";
    } else if (key == "appendfsync") {
      if (value != "always" && value != "everysec" && value != "no") {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("system redis: option appendfsync={}: expected always, "
                                     "everysec or no",
                                     value));
      }
      o.appendfsync = value;
    } else if (key == "down-after-ms") {
      FAULTLINE_ASSIGN_OR_RETURN(o.down_after_ms, IntOption(key, value, 100, 60000));
    } else if (key == "failover-timeout-ms") {
      FAULTLINE_ASSIGN_OR_RETURN(o.failover_timeout_ms, IntOption(key, value, 1000, 10000));
    } else {
      std::vector<std::string> keys;
      for (const OptionRow& r : kOptionRows) keys.emplace_back(r.key.substr(0, r.key.find('=')));
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("system redis: unknown option '{}' (known: {})", key, fmt::join(keys, ", ")));
    }
  }
  return o;
}

Result<std::string> RedisConf(const SystemCluster& cluster, size_t index,
                              const RedisOptions& options) {
  if (index >= cluster.nodes.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("redis: node index {} of {} nodes", index, cluster.nodes.size()));
  }
  const SystemNode& self = cluster.nodes[index];
  std::string out = fmt::format(
      "# written by faultline for {}; Sentinel rewrites it (replicaof) after failovers\n"
      "bind {}\nport {}\nprotected-mode no\ndaemonize yes\n"
      "pidfile {}/redis.pid\nlogfile {}/redis.log\ndir {}\n"
      "save \"\"\nappendonly {}\nappendfsync {}\n"
      "min-replicas-to-write {}\nmin-replicas-max-lag {}\n"
      "repl-diskless-sync yes\nrepl-diskless-sync-delay 0\nrepl-timeout 5\n",
      self.name, self.address, self.port, self.data_dir, self.log_dir, self.data_dir,
      options.appendonly ? "yes" : "no", options.appendfsync, options.min_replicas_to_write,
      options.min_replicas_max_lag);
  if (index != 0) {
    out += fmt::format("replicaof {} {}\n", cluster.nodes[0].address, cluster.nodes[0].port);
  }
  return out;
}

Result<std::string> SentinelConf(const SystemCluster& cluster, size_t index,
                                 const RedisOptions& options) {
  if (index >= cluster.nodes.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("redis: node index {} of {} nodes", index, cluster.nodes.size()));
  }
  const SystemNode& self = cluster.nodes[index];
  const std::string& m = std::string(client::kRedisMasterName);
  return fmt::format(
      "# written by faultline for {}; Sentinel rewrites it\n"
      "bind {}\nport {}\nprotected-mode no\ndaemonize yes\n"
      "pidfile {}/sentinel.pid\nlogfile {}/sentinel.log\ndir {}\n"
      "sentinel monitor {} {} {} {}\n"
      "sentinel down-after-milliseconds {} {}\n"
      "sentinel failover-timeout {} {}\n"
      "sentinel parallel-syncs {} {}\n",
      self.name, self.address, client::kSentinelPort, self.data_dir, self.log_dir, self.data_dir, m,
      cluster.nodes[0].address, cluster.nodes[0].port, cluster.nodes.size() / 2 + 1, m,
      options.down_after_ms, m, options.failover_timeout_ms, m, cluster.nodes.size());
}

SystemFile RedisCommands() {
  SystemFile f;
  f.path = std::string("built-in redis");
  f.dir = std::string("/");
  f.name = std::string("redis");
  f.nodes = 3;
  f.client_port = client::kRedisPort;
  // The pid file's pid, if that process is a redis-server (not a Sentinel, not a reused pid).
  const std::string read_pid =
      "p=$(cat {data_dir}/redis.pid 2>/dev/null) && tr '\\0' ' ' </proc/\"$p\"/cmdline "
      "2>/dev/null | grep -q 'redis-server' && ! grep -q sentinel /proc/\"$p\"/cmdline";
  f.commands.start = std::string("redis-server {data_dir}/redis.conf");
  f.commands.pid = fmt::format("{} && echo \"$p\"; true", read_pid);
  f.commands.stop = fmt::format(
      "{} && kill \"$p\" 2>/dev/null; for i in $(seq 50); do kill -0 \"$p\" 2>/dev/null || "
      "exit 0; sleep 0.1; done; exit 1",
      read_pid);
  f.commands.kill = fmt::format(
      "{} && kill -9 \"$p\" 2>/dev/null; for i in $(seq 20); do kill -0 \"$p\" 2>/dev/null || "
      "exit 0; sleep 0.1; done; true",
      read_pid);
  f.commands.wipe = std::string(
      "rm -rf {data_dir}/dump.rdb {data_dir}/appendonlydir {data_dir}/redis.pid "
      "{data_dir}/redis.conf {data_dir}/sentinel.conf {data_dir}/sentinel.pid");
  f.commands.is_up =
      std::string("redis-cli -h {address} -p {port} ping 2>/dev/null | grep -q PONG");
  f.logs = std::vector<std::string>{"{log_dir}/redis.log", "{log_dir}/sentinel.log"};
  // append and rw-register: MULTI/EXEC transactions on the primary (client/redis.h).
  f.workloads = std::vector<std::string>{"register", "set", "append", "rw-register"};
  f.client = std::string("exec:false");  // unused: the Redis system has its own client
  // redis-server reads the time through libc, so clock faults reach it through libfaketime (its
  // Sentinel, started apart, keeps the true time).
  f.clock = std::string("libfaketime");
  return f;
}

std::vector<RedisPowerCut> RedisPowerCuts(const history::History& history) {
  std::vector<RedisPowerCut> out;
  // The fault's first op (its plan), before it is applied. A flag, not std::optional: GCC 12 at
  // -O2 wrongly warns that an optional's value may be used uninitialized here.
  int64_t began = 0;
  bool have_began = false;
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& op = history[i];
    if (op.is_client() || (op.f != "lose-unsynced" && op.f != "lose-unsynced-one")) continue;
    const Value* nodes = op.FindExtra(history::field::kNodes);
    const Value* ok = op.FindExtra(history::field::kOk);
    if (nodes == nullptr && ok == nullptr) {
      began = op.time_ns;
      have_began = true;
      continue;
    }
    const bool applied = ok != nullptr && ok->kind() == history::ValueKind::kBool && ok->as_bool();
    if (applied) {
      RedisPowerCut cut{.time_ns = have_began ? began : op.time_ns, .fault = op.f, .nodes = {}};
      if (nodes != nullptr && nodes->is_collection()) {
        for (const Value& n : nodes->items()) {
          if (n.is_string()) cut.nodes.push_back(n.text());
        }
      }
      out.push_back(std::move(cut));
    }
    have_began = false;
  }
  return out;
}

std::string RedisDurabilityWords(const RedisOptions& options) {
  if (!options.appendonly) {
    return "with appendonly no and no snapshots (save \"\") nothing reaches the disk, so a "
           "power cut loses whatever the replicas do not hold (--system-option appendonly=yes "
           "keeps an append-only file)";
  }
  if (options.appendfsync == "always") {
    return "appendfsync always fsyncs the append-only file before each reply, so these were on "
           "disk unless the disk lost fsynced writes";
  }
  if (options.appendfsync == "no") {
    return "appendfsync no leaves fsync to the kernel (about every 30 s), so acknowledged writes "
           "may be that far from the disk (--system-option appendfsync=always fsyncs before each "
           "reply)";
  }
  return "appendfsync everysec fsyncs the append-only file once a second, so up to a second of "
         "acknowledged writes is not yet on disk (--system-option appendfsync=always fsyncs "
         "before each reply)";
}

SystemAccount RedisAccount(const history::History& history, int64_t start_ns,
                           const std::vector<RedisFailover>& failovers,
                           const std::vector<RedisRoleChange>& roles, const RedisOptions& options) {
  SystemAccount out;
  Json j;
  Json fj = Json::array();
  for (const RedisFailover& f : failovers) {
    fj.push_back(Json{{"time_s", static_cast<double>(f.time_ns - start_ns) / 1e9},
                      {"epoch", f.epoch},
                      {"from", f.from},
                      {"to", f.to},
                      {"seen_by_sentinel", f.seen_by}});
    out.lines.push_back(fmt::format("redis: Sentinel failover at {} (epoch {}): primary {} -> {}",
                                    Seconds(f.time_ns, start_ns), f.epoch,
                                    f.from.empty() ? "?" : f.from, f.to));
  }
  if (failovers.empty()) out.lines.push_back("redis: no Sentinel failover during the run");
  j["failovers"] = std::move(fj);
  Json rj = Json::array();
  for (const RedisRoleChange& r : roles) {
    rj.push_back(Json{{"time_s", static_cast<double>(r.time_ns - start_ns) / 1e9},
                      {"node", r.node},
                      {"role", r.role},
                      {"primary", r.primary}});
  }
  j["role_changes"] = std::move(rj);

  // Acknowledged adds (set workload) or appends (append workload: each key's list is a set of
  // "[:append k v]"), and the final reads, per set.
  struct Ack {
    int64_t time_ns = 0;
    std::string node;
  };
  std::map<std::string, std::map<std::string, Ack>> acked;  // set -> element (EDN) -> ack
  std::map<std::string, std::vector<std::set<std::string>>> finals;
  const std::vector<RedisPowerCut> cuts = RedisPowerCuts(history);
  bool set_workload = false;
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& inv = history[i];
    if (!inv.is_invoke() || !inv.is_client()) continue;
    const size_t p = history.partner(i);
    if (p == history::History::kNone) continue;
    const Op& comp = history[p];
    if (comp.type != OpType::kOk) continue;
    const std::string set = inv.key ? inv.key->ToEdn() : "nil";
    if (inv.f == "add") {
      set_workload = true;
      const Value* node = comp.FindExtra(history::field::kNode);
      acked[set][inv.value.ToEdn()] =
          Ack{.time_ns = comp.time_ns, .node = node && node->is_string() ? node->text() : "?"};
    } else if (inv.f == "txn") {
      Result<std::vector<history::MicroOp>> ops =
          history::DecodeMicroOps(comp.value, /*completed_ok=*/true);
      if (!ops) continue;
      const Value* final = inv.FindExtra(history::field::kFinal);
      const bool is_final =
          final != nullptr && final->kind() == history::ValueKind::kBool && final->as_bool();
      const Value* node = comp.FindExtra(history::field::kNode);
      for (const history::MicroOp& m : *ops) {
        const std::string list = fmt::format("list {}", m.key);
        if (m.kind == history::MicroOpKind::kAppend) {
          set_workload = true;
          acked[list][fmt::format("[:append {} {}]", m.key, m.value)] =
              Ack{.time_ns = comp.time_ns, .node = node && node->is_string() ? node->text() : "?"};
        } else if (is_final && m.kind == history::MicroOpKind::kRead && m.is_list) {
          std::set<std::string>& elements = finals[list].emplace_back();
          for (int64_t e : m.list) elements.insert(fmt::format("[:append {} {}]", m.key, e));
        }
      }
    } else if (inv.f == "read") {
      const Value* final = inv.FindExtra(history::field::kFinal);
      if (final == nullptr || final->kind() != history::ValueKind::kBool || !final->as_bool()) {
        continue;
      }
      if (!comp.value.is_collection()) continue;
      std::set<std::string>& elements = finals[set].emplace_back();
      for (const Value& e : comp.value.items()) elements.insert(e.ToEdn());
    }
  }
  if (!set_workload) {
    j["lost_acknowledged_writes"] = nullptr;
    out.json = j.dump();
    return out;
  }
  // Lost: acknowledged, absent from every final read of its set; grouped by the primary that
  // acknowledged it.
  struct Group {
    int64_t count = 0;
    int64_t first_ns = INT64_MAX;
    int64_t last_ns = INT64_MIN;
    std::vector<std::string> examples;
  };
  std::map<std::string, Group> by_node;
  int64_t lost = 0;
  for (const auto& [set, elements] : acked) {
    auto f = finals.find(set);
    if (f == finals.end()) continue;  // undecidable without a final read
    for (const auto& [element, ack] : elements) {
      const bool seen =
          std::any_of(f->second.begin(), f->second.end(),
                      [&](const std::set<std::string>& s) { return s.count(element) > 0; });
      if (seen) continue;
      ++lost;
      Group& g = by_node[ack.node];
      ++g.count;
      g.first_ns = std::min(g.first_ns, ack.time_ns);
      g.last_ns = std::max(g.last_ns, ack.time_ns);
      if (g.examples.size() < 10) g.examples.push_back(element);
    }
  }
  j["lost_acknowledged_writes"] = lost;
  Json lj = Json::array();
  for (const auto& [node, g] : by_node) {
    // The failover that deposed this primary: the first from it that comes after its first lost
    // write less the time Sentinel takes to notice (the writes a cut-off primary takes begin
    // before the failover), else the last one from it.
    const RedisFailover* deposed = nullptr;
    const int64_t notice_ns = int64_t{options.down_after_ms} * 1'000'000 + 10'000'000'000;
    for (const RedisFailover& f : failovers) {
      if (f.from != node) continue;
      if (f.time_ns + notice_ns >= g.first_ns + start_ns) {
        deposed = &f;
        break;
      }
      deposed = &f;
    }
    // A power cut (lose-unsynced) of this node after its first lost write, before any failover
    // from it: the cut, not replication, lost them.
    const RedisPowerCut* cut = nullptr;
    for (const RedisPowerCut& c : cuts) {
      const bool hit =
          c.nodes.empty() || std::find(c.nodes.begin(), c.nodes.end(), node) != c.nodes.end();
      if (hit && c.time_ns >= g.first_ns &&
          (deposed == nullptr || c.time_ns + start_ns <= deposed->time_ns)) {
        cut = &c;
        break;
      }
    }
    if (cut != nullptr) deposed = nullptr;
    const RedisRoleChange* rejoined = nullptr;
    if (deposed != nullptr) {
      for (const RedisRoleChange& r : roles) {
        if (r.node == node && r.role == "slave" && r.time_ns >= deposed->time_ns) {
          rejoined = &r;
          break;
        }
      }
    }
    Json one{{"primary", node},
             {"count", g.count},
             {"first_ack_s", static_cast<double>(g.first_ns) / 1e9},
             {"last_ack_s", static_cast<double>(g.last_ns) / 1e9},
             {"examples", g.examples}};
    std::string line = fmt::format(
        "redis: {} acknowledged write{} lost ({}): primary {} acknowledged {} between {:.1f} s "
        "and {:.1f} s",
        g.count, g.count == 1 ? "" : "s", fmt::join(g.examples, ", "), node,
        g.count == 1 ? "it" : "them", static_cast<double>(g.first_ns) / 1e9,
        static_cast<double>(g.last_ns) / 1e9);
    if (deposed != nullptr) {
      one["failover"] = Json{{"time_s", static_cast<double>(deposed->time_ns - start_ns) / 1e9},
                             {"epoch", deposed->epoch},
                             {"to", deposed->to}};
      line += fmt::format(
          ", cut off from the Sentinels' majority, which promoted {} at {} (epoch {}); {} never "
          "received them",
          deposed->to, Seconds(deposed->time_ns, start_ns), deposed->epoch, deposed->to);
      if (rejoined != nullptr) {
        one["rejoined_as_replica_s"] = static_cast<double>(rejoined->time_ns - start_ns) / 1e9;
        line += fmt::format(", and {} discarded them when it rejoined as a replica of {} at {}",
                            node, rejoined->primary.empty() ? deposed->to : rejoined->primary,
                            Seconds(rejoined->time_ns, start_ns));
      }
    } else if (cut != nullptr) {
      one["power_cut"] = Json{{"time_s", static_cast<double>(cut->time_ns) / 1e9},
                              {"fault", cut->fault},
                              {"nodes", cut->nodes}};
      line += fmt::format(
          ", then lost power at {:.1f} s ({}{}: the server killed and the writes "
          "not yet on its disk dropped); {}",
          static_cast<double>(cut->time_ns) / 1e9, cut->fault,
          cut->nodes.empty() ? "" : fmt::format(" on {}", fmt::join(cut->nodes, ",")),
          RedisDurabilityWords(options));
    } else {
      line += "; no failover from it was seen by the Sentinel poll (it may have been too short)";
    }
    if (cut == nullptr) {
      line += " (Redis replicates asynchronously";
      line += options.min_replicas_to_write == 0 && options.wait == 0
                  ? "; --system-option min-replicas-to-write=N or wait=N narrow this window)"
                  : ")";
    }
    out.lines.push_back(std::move(line));
    lj.push_back(std::move(one));
  }
  j["lost_by_primary"] = std::move(lj);
  if (lost == 0) out.lines.push_back("redis: no acknowledged write was lost");
  out.json = j.dump();
  return out;
}

std::optional<std::string> SentinelMajorityPrimary(const SystemCluster& cluster,
                                                   const std::vector<std::string>& named) {
  std::map<std::string, size_t> votes;
  for (const std::string& address : named) {
    if (!address.empty()) ++votes[address];
  }
  for (const auto& [address, count] : votes) {
    if (count < cluster.nodes.size() / 2 + 1) continue;
    for (const SystemNode& n : cluster.nodes) {
      if (n.address == address) return n.name;
    }
  }
  return std::nullopt;
}

namespace {

// The value of `key` in a flat key/value reply (SENTINEL master), or "".
std::string Field(const std::vector<std::string>& flat, std::string_view key) {
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (flat[i] == key) return flat[i + 1];
  }
  return "";
}

class RedisSystem final : public System {
 public:
  explicit RedisSystem(RedisOptions options)
      : options_(std::move(options)), commands_(MakeFileSystem(RedisCommands())) {
    info_ = commands_->Info();
    info_.name = "redis";
    // The Sentinels' primary is the leader. A cut-off primary is down after down-after-ms; the
    // majority's Sentinels agree and elect one of them within about 2 s; a failover that finds no
    // replica with fresh INFO (-failover-abort-no-good-slave) is retried after twice the failover
    // timeout; the promotion shows within a second or so.
    info_.has_leader = true;
    info_.failover =
        std::chrono::milliseconds(options_.down_after_ms + 2 * options_.failover_timeout_ms + 3000);
  }
  ~RedisSystem() override { StopPoller(); }

  const SystemInfo& Info() const override { return info_; }

  Status Form(const SystemCluster& cluster, nemesis::NodeControl& shell,
              std::chrono::milliseconds timeout, const Progress& progress) override {
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      const SystemNode& n = cluster.nodes[i];
      FAULTLINE_ASSIGN_OR_RETURN(std::string redis, RedisConf(cluster, i, options_));
      FAULTLINE_ASSIGN_OR_RETURN(std::string sentinel, SentinelConf(cluster, i, options_));
      for (const auto& [name, text] : {std::pair<std::string, std::string>{"redis.conf", redis},
                                       {"sentinel.conf", sentinel}}) {
        Status written =
            WriteNodeFile(shell, cluster, n, fmt::format("{}/{}", n.data_dir, name), text);
        if (!written) return written.error().WithContext("redis");
      }
    }
    const auto start = std::chrono::steady_clock::now();
    FAULTLINE_RETURN_IF_ERROR(commands_->Form(cluster, shell, timeout, progress));
    std::vector<Status> started = ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      const SystemNode& n = cluster.nodes[i];
      Result<nemesis::CommandOutput> out = shell.Run(
          n.name, fmt::format("redis-sentinel {}/sentinel.conf >>{}/commands.log 2>&1 </dev/null",
                              n.data_dir, n.log_dir));
      if (!out) return out.error().WithContext(fmt::format("redis: start sentinel on {}", n.name));
      if (out->exit_code != 0) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("redis: start sentinel on {}: exit code {} (see {}/"
                                     "commands.log)",
                                     n.name, out->exit_code, n.log_dir));
      }
      return OkStatus();
    });
    for (const Status& s : started) FAULTLINE_RETURN_IF_ERROR(s);
    while (true) {
      Status ready = Ready(cluster, shell);
      if (ready) break;
      if (std::chrono::steady_clock::now() - start >= timeout) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         fmt::format("redis: not ready after {} ms: {}", timeout.count(),
                                     ready.error().message()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (progress) {
      progress(fmt::format("redis: primary {}, {} replicas, a Sentinel on every node",
                           cluster.nodes[0].name, cluster.nodes.size() - 1));
    }
    StartPoller(cluster);
    return OkStatus();
  }

  Result<std::unique_ptr<nemesis::NodeControl>> Control(const SystemCluster& cluster,
                                                        nemesis::NodeControl& base) override {
    return commands_->Control(cluster, base);
  }

  // One node on its own: its server is the primary, or a replica whose link to the primary is
  // up, and its Sentinel names a primary.
  Status NodeReady(const SystemCluster& cluster, size_t index,
                   nemesis::NodeControl& /*shell*/) override {
    const SystemNode& node = cluster.nodes.at(index);
    auto unavailable = [&](std::string_view why) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("{}: {}", node.name, why));
    };
    Result<std::vector<std::string>> role =
        client::RedisQuery(node.address, node.port, {"ROLE"}, kProbeTimeout);
    if (!role) return unavailable(role.error().message());
    // ROLE of a replica: "slave", the primary's ip and port, the link's state, the offset.
    if (role->empty() || ((*role)[0] != "master" && (*role)[0] != "slave")) {
      return unavailable(fmt::format("role {}", role->empty() ? "?" : (*role)[0]));
    }
    if ((*role)[0] == "slave" && (role->size() < 4 || (*role)[3] != "connected")) {
      return unavailable(fmt::format("replica of {}, link {}", role->size() > 1 ? (*role)[1] : "?",
                                     role->size() > 3 ? (*role)[3] : "?"));
    }
    Result<std::vector<std::string>> master = client::RedisQuery(
        node.address, client::kSentinelPort,
        {"SENTINEL", "master", std::string(client::kRedisMasterName)}, kProbeTimeout);
    if (!master) return unavailable("sentinel: " + master.error().message());
    if (Field(*master, "ip").empty()) return unavailable("sentinel names no primary");
    return OkStatus();
  }

  // Every server answers; every Sentinel names the same primary and knows the other Sentinels;
  // that primary says it is one and has every other node as a connected replica.
  Status Ready(const SystemCluster& cluster, nemesis::NodeControl& /*shell*/) override {
    const size_t n = cluster.nodes.size();
    std::vector<std::string> problems(n);
    std::vector<std::string> named(n);
    ParallelFor(n, [&](size_t i) -> Status {
      const SystemNode& node = cluster.nodes[i];
      Result<std::vector<std::string>> ping =
          client::RedisQuery(node.address, node.port, {"PING"}, kProbeTimeout);
      if (!ping) {
        problems[i] = ping.error().message();
        return OkStatus();
      }
      Result<std::vector<std::string>> master = client::RedisQuery(
          node.address, client::kSentinelPort,
          {"SENTINEL", "master", std::string(client::kRedisMasterName)}, kProbeTimeout);
      if (!master) {
        problems[i] = master.error().message();
        return OkStatus();
      }
      named[i] = Field(*master, "ip");
      const std::string others = Field(*master, "num-other-sentinels");
      if (others != std::to_string(n - 1)) {
        problems[i] = fmt::format("sentinel knows {} other sentinels", others);
      }
      return OkStatus();
    });
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) {
      if (!problems[i].empty())
        out.push_back(fmt::format("{}: {}", cluster.nodes[i].name, problems[i]));
    }
    if (out.empty()) {
      for (size_t i = 1; i < n; ++i) {
        if (named[i] != named[0]) {
          out.push_back(
              fmt::format("the Sentinels disagree on the primary ({})", fmt::join(named, ", ")));
          break;
        }
      }
    }
    if (out.empty()) {
      const SystemNode* primary = nullptr;
      for (const SystemNode& node : cluster.nodes) {
        if (node.address == named[0]) primary = &node;
      }
      if (primary == nullptr) {
        out.push_back(fmt::format("the Sentinels name {}, not a node", named[0]));
      } else {
        Result<std::vector<std::string>> role =
            client::RedisQuery(primary->address, primary->port, {"ROLE"}, kProbeTimeout);
        // ROLE of a primary: "master", offset, then ip, port, offset per connected replica.
        if (!role || role->empty() || (*role)[0] != "master") {
          out.push_back(fmt::format("{} is named primary but is not one", primary->name));
        } else if ((role->size() - 2) / 3 != n - 1) {
          out.push_back(fmt::format("primary {} has {} of {} replicas", primary->name,
                                    (role->size() - 2) / 3, n - 1));
        }
      }
    }
    if (out.empty()) return OkStatus();
    return MakeError(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(out, "; ")));
  }

  Result<std::unique_ptr<client::ClientFactory>> Clients(const SystemCluster& cluster,
                                                         const ClientSetup& setup) override {
    FAULTLINE_RETURN_IF_ERROR(CheckWorkload(setup.workload));
    // Every op goes to the primary, so the checkers hold it to linearizability (register, set) and
    // strict serializability (the MULTI/EXEC transactions of append and rw-register): what one
    // primary running commands one at a time gives. Async replication and failover can lose
    // acknowledged writes, which these models catch. A weaker read mode would only excuse that.
    if (setup.read_mode != "linearizable") {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("system redis: read mode '{}' (every read goes to the primary: "
                                   "expected linearizable)",
                                   setup.read_mode));
    }
    client::RedisClientOptions o;
    for (const SystemNode& n : cluster.nodes) {
      o.endpoints.push_back({.node = n.name, .address = n.address, .port = n.port});
    }
    o.workload = setup.workload;
    o.timeout = setup.timeout;
    o.wait_replicas = options_.wait;
    o.wait_timeout = std::chrono::milliseconds(options_.wait_timeout_ms);
    o.key_prefix = setup.key_prefix;
    return client::MakeRedisClientFactory(std::move(o));
  }

  Status Teardown(const SystemCluster& cluster, nemesis::NodeControl& shell) override {
    StopPoller();
    // The Sentinels first (they would otherwise react to the servers going away), by the pid
    // each wrote, if that process is a Sentinel.
    std::vector<Status> stopped = ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      const SystemNode& n = cluster.nodes[i];
      const std::string cmd = fmt::format(
          "p=$(cat {}/sentinel.pid 2>/dev/null) && grep -q sentinel /proc/\"$p\"/cmdline "
          "2>/dev/null || exit 0; kill -CONT \"$p\"; kill \"$p\"; for i in $(seq 30); do "
          "kill -0 \"$p\" 2>/dev/null || exit 0; sleep 0.1; done; kill -9 \"$p\"; sleep 0.2; "
          "kill -0 \"$p\" 2>/dev/null && exit 1; exit 0",
          n.data_dir);
      Result<nemesis::CommandOutput> out = shell.Run(n.name, cmd);
      if (!out) return out.error().WithContext(fmt::format("redis: stop sentinel on {}", n.name));
      if (out->exit_code != 0) {
        return MakeError(ErrorCode::kUnavailable,
                         fmt::format("redis: stop sentinel on {}: still running", n.name));
      }
      return OkStatus();
    });
    std::vector<std::string> errors;
    for (const Status& s : stopped) {
      if (!s.has_value()) errors.push_back(s.error().message());
    }
    Status servers = commands_->Teardown(cluster, shell);
    if (!servers.has_value()) errors.push_back(servers.error().message());
    if (errors.empty()) return OkStatus();
    return MakeError(ErrorCode::kUnavailable, fmt::format("{}", fmt::join(errors, "; ")));
  }

  // The poller's primary when this System formed the cluster; otherwise (a cluster another
  // process formed) the primary a majority of the Sentinels name now.
  std::optional<std::string> Leader(const SystemCluster& cluster) override {
    {
      std::lock_guard lock(mu_);
      if (!primary_.empty()) return primary_;
    }
    std::vector<std::string> named(cluster.nodes.size());
    ParallelFor(cluster.nodes.size(), [&](size_t i) -> Status {
      Result<std::vector<std::string>> master = client::RedisQuery(
          cluster.nodes[i].address, client::kSentinelPort,
          {"SENTINEL", "master", std::string(client::kRedisMasterName)}, kProbeTimeout);
      if (master) named[i] = Field(*master, "ip");
      return OkStatus();
    });
    return SentinelMajorityPrimary(cluster, named);
  }

  std::vector<std::string> LogFiles(const SystemCluster& cluster,
                                    const SystemNode& node) const override {
    return commands_->LogFiles(cluster, node);
  }

  SystemAccount Account(const SystemCluster& /*cluster*/, const history::History& history,
                        int64_t start_ns) override {
    std::lock_guard lock(mu_);
    return RedisAccount(history, start_ns, failovers_, roles_, options_);
  }

 private:
  void StartPoller(const SystemCluster& cluster) {
    StopPoller();
    {
      std::lock_guard lock(mu_);
      primary_ = cluster.nodes[0].name;
      epoch_ = 0;
      failovers_.clear();
      roles_.clear();
      last_role_.clear();
    }
    poller_ = std::jthread([this, cluster](std::stop_token stop) { Poll(cluster, stop); });
  }
  void StopPoller() {
    if (poller_.joinable()) {
      poller_.request_stop();
      poller_.join();
    }
  }

  std::string NodeOf(const SystemCluster& cluster, const std::string& address) const {
    for (const SystemNode& n : cluster.nodes) {
      if (n.address == address) return n.name;
    }
    return address;
  }

  void Poll(const SystemCluster& cluster, const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      const auto next = std::chrono::steady_clock::now() + kPollEvery;
      const size_t n = cluster.nodes.size();
      std::vector<Result<std::vector<std::string>>> masters(n, std::vector<std::string>{});
      std::vector<Result<std::vector<std::string>>> roles(n, std::vector<std::string>{});
      ParallelFor(n, [&](size_t i) -> Status {
        const SystemNode& node = cluster.nodes[i];
        masters[i] = client::RedisQuery(
            node.address, client::kSentinelPort,
            {"SENTINEL", "master", std::string(client::kRedisMasterName)}, kPollTimeout);
        roles[i] = client::RedisQuery(node.address, node.port, {"ROLE"}, kPollTimeout);
        return OkStatus();
      });
      const int64_t now = history::MonotonicNowNs();
      {
        std::lock_guard lock(mu_);
        for (size_t i = 0; i < n; ++i) {
          if (!masters[i]) continue;
          int64_t epoch = 0;
          const std::string e = Field(*masters[i], "config-epoch");
          std::from_chars(e.data(), e.data() + e.size(), epoch);
          const std::string to = NodeOf(cluster, Field(*masters[i], "ip"));
          // The epoch grows when a failover begins; the primary changes when it is done.
          if (epoch <= epoch_ || to == primary_) continue;
          failovers_.push_back(RedisFailover{.time_ns = now,
                                             .epoch = epoch,
                                             .from = primary_,
                                             .to = to,
                                             .seen_by = cluster.nodes[i].name});
          epoch_ = epoch;
          primary_ = to;
        }
        for (size_t i = 0; i < n; ++i) {
          if (!roles[i] || roles[i]->empty()) continue;
          const std::vector<std::string>& r = *roles[i];
          RedisRoleChange change{
              .time_ns = now, .node = cluster.nodes[i].name, .role = r[0], .primary = ""};
          if (r[0] == "slave" && r.size() > 1) change.primary = NodeOf(cluster, r[1]);
          const std::string key = change.role + "/" + change.primary;
          std::string& last = last_role_[change.node];
          if (last == key) continue;
          // The first sighting is the starting point, not a change.
          if (!last.empty()) roles_.push_back(change);
          last = key;
        }
      }
      std::this_thread::sleep_until(next);
    }
  }

  RedisOptions options_;
  std::unique_ptr<System> commands_;
  SystemInfo info_;
  std::mutex mu_;
  std::string primary_;  // the newest primary a Sentinel named
  int64_t epoch_ = 0;
  std::vector<RedisFailover> failovers_;
  std::vector<RedisRoleChange> roles_;
  std::map<std::string, std::string> last_role_;
  std::jthread poller_;  // last: joined before the members it uses go away
};

}  // namespace

Result<std::unique_ptr<System>> MakeRedisSystem(const std::vector<std::string>& options) {
  FAULTLINE_ASSIGN_OR_RETURN(RedisOptions o, ParseRedisOptions(options));
  return std::unique_ptr<System>(std::make_unique<RedisSystem>(std::move(o)));
}

}  // namespace faultline::systems::internal
