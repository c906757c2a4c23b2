#include "systems/system_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file.h"

namespace faultline::systems {
namespace {

using Json = nlohmann::json;

const std::set<std::string, std::less<>> kWorkloads = {"register", "set"};
const std::set<std::string, std::less<>> kCommandKeys = {"setup", "start", "stop",  "kill",  "pid",
                                                         "wipe",  "is_up", "pause", "resume"};
const std::set<std::string, std::less<>> kTopKeys = {"name", "nodes",     "client_port", "commands",
                                                     "logs", "workloads", "client",      "clock"};

class Reader {
 public:
  explicit Reader(std::string_view path) : path_(path) {}

  Error Bad(std::string_view field, std::string_view why) const {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("system file {}: field \"{}\": {}", path_, field, why));
  }

  Result<std::string> String(const Json& obj, const std::string& key, std::string_view field,
                             bool required) const {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) return Bad(field, "missing");
      return std::string();
    }
    if (!it->is_string()) return Bad(field, "expected a string");
    if (required && it->get<std::string>().empty()) return Bad(field, "must not be empty");
    return it->get<std::string>();
  }

  Result<int> Int(const Json& obj, const std::string& key, int lo, int hi,
                  std::optional<int> fallback) const {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (fallback) return *fallback;
      return Bad(key, "missing");
    }
    if (!it->is_number_integer()) return Bad(key, "expected an integer");
    const auto v = it->get<std::int64_t>();
    if (v < lo || v > hi) return Bad(key, fmt::format("{} is not in {}..{}", v, lo, hi));
    return static_cast<int>(v);
  }

  Result<std::vector<std::string>> Strings(const Json& obj, const std::string& key) const {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end()) return out;
    if (!it->is_array()) return Bad(key, "expected a list of strings");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return Bad(fmt::format("{}[{}]", key, i), "expected a string");
      }
      out.push_back((*it)[i].get<std::string>());
    }
    return out;
  }

 private:
  std::string path_;
};

// The placeholder word at text[i] == '{' ("node" for "{node}"), or empty when the brace does not
// open one ({1}, {}, ${HOME} stay as they are).
std::string_view PlaceholderAt(std::string_view text, size_t i) {
  const size_t close = text.find('}', i + 1);
  if (close == std::string_view::npos) return {};
  const std::string_view word = text.substr(i + 1, close - i - 1);
  const bool is_word = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
  });
  return is_word ? word : std::string_view();
}

Error UnknownPlaceholder(std::string_view word) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown placeholder {{{}}} (known: {{{}}})", word,
                           fmt::join(PlaceholderNames(), "}, {")));
}

// Every placeholder in `text` must be known; checked once at parse time.
Status CheckPlaceholders(const Reader& r, std::string_view field, std::string_view text) {
  const std::vector<std::string> names = PlaceholderNames();
  for (size_t i = text.find('{'); i != std::string_view::npos; i = text.find('{', i + 1)) {
    const std::string_view word = PlaceholderAt(text, i);
    if (word.empty() || std::find(names.begin(), names.end(), word) != names.end()) continue;
    return r.Bad(field, UnknownPlaceholder(word).message());
  }
  return OkStatus();
}

}  // namespace

std::vector<std::string> PlaceholderNames() {
  return {"node", "address", "port", "peers", "data_dir", "log_dir", "cluster", "dir"};
}

Result<std::string> ExpandPlaceholders(std::string_view text, const Placeholders& values) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const std::string_view word = text[i] == '{' ? PlaceholderAt(text, i) : std::string_view();
    if (word.empty()) {
      out.push_back(text[i++]);
      continue;
    }
    auto it = values.find(word);
    if (it == values.end()) return UnknownPlaceholder(word);
    out.append(it->second);
    i += word.size() + 2;
  }
  return out;
}

Result<SystemFile> ParseSystemFile(std::string_view text, std::string_view path) {
  const Reader r(path);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system file {}: not JSON: {}", path, e.what()));
  }
  if (!j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("system file {}: expected a JSON object", path));
  }
  for (const auto& [key, value] : j.items()) {
    if (!kTopKeys.contains(key)) {
      return r.Bad(key,
                   fmt::format("unknown field (expected one of: {})", fmt::join(kTopKeys, ", ")));
    }
  }
  SystemFile f;
  f.path = std::string(path);
  std::error_code ec;
  {
    const std::filesystem::path abs = std::filesystem::absolute(std::string(path), ec);
    f.dir = (ec ? std::filesystem::path(std::string(path)) : abs).parent_path().string();
  }
  FAULTLINE_ASSIGN_OR_RETURN(f.name, r.String(j, "name", "name", true));
  if (!std::all_of(f.name.begin(), f.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      })) {
    return r.Bad("name", fmt::format("'{}' (expected letters a-z, digits, '_' or '-')", f.name));
  }
  FAULTLINE_ASSIGN_OR_RETURN(f.nodes, r.Int(j, "nodes", 1, 9, 3));
  FAULTLINE_ASSIGN_OR_RETURN(f.client_port, r.Int(j, "client_port", 1, 65535, std::nullopt));

  auto cmds = j.find("commands");
  if (cmds == j.end()) return r.Bad("commands", "missing");
  if (!cmds->is_object()) return r.Bad("commands", "expected an object of shell commands");
  for (const auto& [key, value] : cmds->items()) {
    if (!kCommandKeys.contains(key)) {
      return r.Bad(
          fmt::format("commands.{}", key),
          fmt::format("unknown command (expected one of: {})", fmt::join(kCommandKeys, ", ")));
    }
  }
  SystemCommands& c = f.commands;
  const std::pair<const char*, std::string*> fields[] = {
      {"setup", &c.setup}, {"start", &c.start}, {"stop", &c.stop},
      {"kill", &c.kill},   {"pid", &c.pid},     {"wipe", &c.wipe},
      {"is_up", &c.is_up}, {"pause", &c.pause}, {"resume", &c.resume}};
  for (const auto& [key, member] : fields) {
    const std::string k(key);
    const bool optional = k == "setup" || k == "pause" || k == "resume";
    const std::string field = fmt::format("commands.{}", k);
    FAULTLINE_ASSIGN_OR_RETURN(*member, r.String(*cmds, k, field, !optional));
    FAULTLINE_RETURN_IF_ERROR(CheckPlaceholders(r, field, *member));
  }

  FAULTLINE_ASSIGN_OR_RETURN(f.logs, r.Strings(j, "logs"));
  for (size_t i = 0; i < f.logs.size(); ++i) {
    FAULTLINE_RETURN_IF_ERROR(CheckPlaceholders(r, fmt::format("logs[{}]", i), f.logs[i]));
  }
  if (j.contains("workloads")) {
    FAULTLINE_ASSIGN_OR_RETURN(f.workloads, r.Strings(j, "workloads"));
    if (f.workloads.empty()) return r.Bad("workloads", "must name at least one workload");
    for (const std::string& w : f.workloads) {
      if (!kWorkloads.contains(w)) {
        return r.Bad("workloads", fmt::format("'{}' (expected register or set)", w));
      }
    }
  }
  FAULTLINE_ASSIGN_OR_RETURN(f.client, r.String(j, "client", "client", true));
  if (f.client.rfind("exec:", 0) != 0 || f.client.size() == 5) {
    return r.Bad("client", fmt::format("'{}' (expected exec:COMMAND, e.g. \"exec:python3 "
                                       "client.py\")",
                                       f.client));
  }
  FAULTLINE_RETURN_IF_ERROR(CheckPlaceholders(r, "client", f.client));
  if (j.contains("clock")) {
    FAULTLINE_ASSIGN_OR_RETURN(f.clock, r.String(j, "clock", "clock", true));
    if (f.clock != "libfaketime" && f.clock != "none") {
      return r.Bad("clock", fmt::format("'{}' (expected libfaketime or none)", f.clock));
    }
  }
  return f;
}

Result<SystemFile> LoadSystemFile(std::string_view path) {
  Result<std::string> text = ReadFile(std::string(path));
  if (!text) return text.error().WithContext(fmt::format("system file {}", path));
  return ParseSystemFile(*text, path);
}

}  // namespace faultline::systems
