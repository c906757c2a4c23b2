#include "nemesis/ledger.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/fd.h"
#include "nemesis/internal/proc.h"

namespace faultline::nemesis {
namespace {

using nlohmann::json;

Error FileError(int err, std::string_view what, const std::string& path) {
  return Error(err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied
               : err == ENOENT               ? ErrorCode::kNotFound
                                             : ErrorCode::kUnavailable,
               fmt::format("nemesis ledger: {} {}: {}", what, path, std::strerror(err)));
}

Result<std::string> ReadAll(int fd, const std::string& path) {
  std::string out;
  std::array<char, 65536> buf{};
  off_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "read", path);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

json ObjectJson(const LedgerObject& o) {
  json j = {{"type", o.type}};
  if (!o.node.empty()) j["node"] = o.node;
  if (!o.netns.empty()) j["netns"] = o.netns;
  if (!o.name.empty()) j["name"] = o.name;
  if (o.handle != 0) j["handle"] = o.handle;
  if (o.pid != 0) j["pid"] = o.pid;
  if (o.start_time != 0) j["start_time"] = o.start_time;
  if (o.flag) j["flag"] = true;
  if (!o.value.empty()) j["value"] = o.value;
  if (!o.set_to.empty()) j["set_to"] = o.set_to;
  if (!o.proxy.empty()) j["proxy"] = o.proxy;
  if (!o.address.empty()) j["address"] = o.address;
  return j;
}

LedgerObject ObjectFrom(const json& j) {
  LedgerObject o;
  o.type = j.at("type").get<std::string>();
  o.node = j.value("node", "");
  o.netns = j.value("netns", "");
  o.name = j.value("name", "");
  o.handle = j.value("handle", std::uint32_t{0});
  o.pid = j.value("pid", 0);
  o.start_time = j.value("start_time", std::uint64_t{0});
  o.flag = j.value("flag", false);
  o.value = j.value("value", "");
  o.set_to = j.value("set_to", "");
  o.proxy = j.value("proxy", "");
  o.address = j.value("address", "");
  return o;
}

json EntryJson(const LedgerEntry& e) {
  json objects = json::array();
  for (const auto& o : e.objects) objects.push_back(ObjectJson(o));
  json net = json::array();
  for (const auto& n : e.net) {
    net.push_back({{"name", n.name}, {"netns", n.netns}, {"address", n.address}});
  }
  return {{"type", "open"},
          {"id", e.id},
          {"kind", e.kind},
          {"description", e.description},
          {"nodes", e.nodes},
          {"run_id", e.run_id},
          {"net", net},
          {"objects", objects},
          {"owner_pid", e.owner_pid},
          {"owner_start_time", e.owner_start_time},
          {"opened_unix_ms", e.opened_unix_ms},
          {"deadline_unix_ms", e.deadline_unix_ms}};
}

LedgerEntry EntryFrom(const json& j) {
  LedgerEntry e;
  e.id = j.at("id").get<std::uint64_t>();
  e.kind = j.at("kind").get<std::string>();
  e.description = j.value("description", "");
  e.nodes = j.value("nodes", std::vector<std::string>{});
  e.run_id = j.value("run_id", "");
  for (const auto& n : j.value("net", json::array())) {
    e.net.push_back(NetNode{.name = n.at("name").get<std::string>(),
                            .netns = n.at("netns").get<std::string>(),
                            .address = n.at("address").get<std::string>()});
  }
  for (const auto& o : j.value("objects", json::array())) e.objects.push_back(ObjectFrom(o));
  e.owner_pid = j.value("owner_pid", 0);
  e.owner_start_time = j.value("owner_start_time", std::uint64_t{0});
  e.opened_unix_ms = j.value("opened_unix_ms", std::int64_t{0});
  e.deadline_unix_ms = j.value("deadline_unix_ms", std::int64_t{0});
  return e;
}

LedgerState Parse(const std::string& content) {
  LedgerState state;
  std::map<std::uint64_t, LedgerEntry> open;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < content.size()) {
    ++line_no;
    const size_t nl = content.find('\n', pos);
    const bool last = nl == std::string::npos;
    const std::string line = content.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? content.size() : nl + 1;
    if (line.empty()) continue;
    try {
      // A line without its newline was cut by a crash during write, even if it parses.
      if (last) throw std::runtime_error("no final newline");
      const json j = json::parse(line);
      const std::string type = j.at("type").get<std::string>();
      const auto id = j.at("id").get<std::uint64_t>();
      if (type == "open") {
        open[id] = EntryFrom(j);
      } else if (type == "amend") {
        auto it = open.find(id);
        if (it != open.end()) {
          for (const auto& o : j.at("objects")) {
            LedgerObject amended = ObjectFrom(o);
            // An amend fills in a placeholder recorded before the object existed (a helper's
            // PID): replace it rather than list the object twice.
            auto& objects = it->second.objects;
            auto placeholder = std::find_if(objects.begin(), objects.end(), [&](const auto& x) {
              return x.type == amended.type && x.name == amended.name && x.node == amended.node &&
                     x.pid == 0;
            });
            if (placeholder != objects.end()) {
              *placeholder = std::move(amended);
            } else {
              objects.push_back(std::move(amended));
            }
          }
        }
      } else if (type == "closed") {
        open.erase(id);
      } else {
        throw std::runtime_error("unknown record type '" + type + "'");
      }
      state.last_id = std::max(state.last_id, id);
      ++state.records;
    } catch (const std::exception& ex) {
      const bool tail = pos >= content.size();
      std::string what = fmt::format("line {} ({} bytes): {}", line_no, line.size(), ex.what());
      if (tail) {
        state.torn_tail = "torn last " + what;
      } else {
        state.warnings.push_back("skipped malformed " + what);
      }
    }
  }
  for (auto& [id, e] : open) state.open.push_back(std::move(e));
  return state;
}

}  // namespace

bool LedgerEntry::operator==(const LedgerEntry& o) const {
  auto same_net = [](const NetNode& a, const NetNode& b) {
    return a.name == b.name && a.netns == b.netns && a.address == b.address;
  };
  return id == o.id && kind == o.kind && description == o.description && nodes == o.nodes &&
         run_id == o.run_id && net.size() == o.net.size() &&
         std::equal(net.begin(), net.end(), o.net.begin(), same_net) && objects == o.objects &&
         owner_pid == o.owner_pid && owner_start_time == o.owner_start_time &&
         opened_unix_ms == o.opened_unix_ms && deadline_unix_ms == o.deadline_unix_ms;
}

std::int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(WallNow()).count();
}

Result<Ledger> Ledger::Open(std::string path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "nemesis ledger: no path given");
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    // A new file: make its directory entry durable too.
    UniqueFd file(fd);
    if (::fsync(file.get()) != 0) return FileError(errno, "fsync", path);
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    const std::string dir =
        parent.empty() ? std::filesystem::current_path().string() : parent.string();
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) return FileError(errno, "open directory", dir);
    if (::fsync(d.get()) != 0) return FileError(errno, "fsync directory", dir);
  } else if (errno != EEXIST) {
    return FileError(errno, "create", path);
  }
  UniqueFd check(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (check.get() < 0) return FileError(errno, "open", path);
  return Ledger(std::move(path));
}

Result<LedgerState> Ledger::Read() const {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, "open", path_);
  if (::flock(fd.get(), LOCK_SH) != 0) return FileError(errno, "lock", path_);
  FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadAll(fd.get(), path_));
  return Parse(content);
}

namespace {

// Appends `make(state)` as one line under an exclusive lock, after a newline if the file ends in
// a torn line, then fsyncs.
template <typename Make>
Status LockedAppend(const std::string& path, Make make) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, "open", path);
  if (::flock(fd.get(), LOCK_EX) != 0) return FileError(errno, "lock", path);
  FAULTLINE_ASSIGN_OR_RETURN(std::string content, ReadAll(fd.get(), path));
  const LedgerState state = Parse(content);
  std::string line;
  try {
    FAULTLINE_ASSIGN_OR_RETURN(line, make(state));
  } catch (const std::exception& ex) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("nemesis ledger: encode record: {}", ex.what()));
  }
  if (!content.empty() && content.back() != '\n') line.insert(line.begin(), '\n');
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd.get(), line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "write", path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return FileError(errno, "fsync", path);
  return OkStatus();
}

}  // namespace

Result<LedgerEntry> Ledger::Append(LedgerEntry entry,
                                   const std::function<void(LedgerEntry&)>& fill) const {
  FAULTLINE_RETURN_IF_ERROR(
      LockedAppend(path_, [&entry, &fill](const LedgerState& state) -> Result<std::string> {
        entry.id = state.last_id + 1;
        if (fill) fill(entry);
        return EntryJson(entry).dump();
      }));
  internal::MaybeCrash("after-ledger-fsync");
  return entry;
}

Status Ledger::Amend(std::uint64_t id, const std::vector<LedgerObject>& objects) const {
  return LockedAppend(path_, [&](const LedgerState&) -> Result<std::string> {
    json arr = json::array();
    for (const auto& o : objects) arr.push_back(ObjectJson(o));
    return json{{"type", "amend"}, {"id", id}, {"objects", arr}}.dump();
  });
}

Status Ledger::Close(std::uint64_t id, std::string_view how) const {
  return LockedAppend(path_, [&](const LedgerState&) -> Result<std::string> {
    return json{{"type", "closed"}, {"id", id}, {"how", how}, {"unix_ms", UnixMillis()}}.dump();
  });
}

}  // namespace faultline::nemesis
