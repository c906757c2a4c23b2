#include "cluster/nodes_file.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file.h"

namespace faultline::cluster {
namespace {

using nlohmann::json;

class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  Unexpected Bad(std::string_view where, std::string_view why) const {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("nodes file {}: {}: {}", source_, where, why));
  }

  // A required non-empty string field.
  Result<std::string> String(const json& obj, std::string_view where, const std::string& key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return Bad(fmt::format("{}field \"{}\"", where, key), "missing");
    if (!it->is_string()) {
      return Bad(fmt::format("{}field \"{}\"", where, key),
                 fmt::format("expected a string, got {}", it->type_name()));
    }
    std::string value = it->get<std::string>();
    if (value.empty()) return Bad(fmt::format("{}field \"{}\"", where, key), "empty");
    return value;
  }

  Result<std::optional<std::string>> OptionalString(const json& obj, std::string_view where,
                                                    const std::string& key) {
    if (!obj.contains(key)) return std::optional<std::string>();
    FAULTLINE_ASSIGN_OR_RETURN(std::string value, String(obj, where, key));
    return std::optional<std::string>(std::move(value));
  }

  // An optional port field: 0 when absent.
  Result<int> OptionalPort(const json& obj, std::string_view where, const std::string& key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return 0;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > 65535) {
      return Bad(fmt::format("{}field \"{}\"", where, key),
                 fmt::format("expected an integer in 1..65535, got {}", it->dump()));
    }
    return it->get<int>();
  }

  // A required (db) or optional (no db) set of etcd commands.
  Status Db(const json& obj, const std::string& where, bool required, DbCommands& out) {
    const auto db = obj.find("db");
    if (db == obj.end()) {
      if (!required) return OkStatus();
      return Bad(where + "field \"db\"",
                 "missing (etcd's start, kill and pid commands; a nodes file whose \"system\" "
                 "names another system may leave it out)");
    }
    if (!db->is_object()) return Bad(where + "field \"db\"", "expected an object");
    const std::string dbw = where + "db: ";
    FAULTLINE_ASSIGN_OR_RETURN(out.start, String(*db, dbw, "start"));
    FAULTLINE_ASSIGN_OR_RETURN(out.kill, String(*db, dbw, "kill"));
    FAULTLINE_ASSIGN_OR_RETURN(out.pid, String(*db, dbw, "pid"));
    FAULTLINE_ASSIGN_OR_RETURN(out.data_dir, OptionalString(*db, dbw, "data_dir"));
    return OkStatus();
  }

  Result<SshNode> Node(const json& obj, size_t index, bool db_required) {
    const std::string at = fmt::format("nodes[{}]", index);
    if (!obj.is_object())
      return Bad(at, fmt::format("expected an object, got {}", obj.type_name()));
    SshNode n;
    FAULTLINE_ASSIGN_OR_RETURN(n.name, String(obj, at + ": ", "name"));
    const std::string where = fmt::format("nodes[{}] ({}): ", index, n.name);
    FAULTLINE_ASSIGN_OR_RETURN(n.host, String(obj, where, "host"));
    const auto port = obj.find("port");
    if (port == obj.end()) return Bad(where + "field \"port\"", "missing");
    if (!port->is_number_integer() || port->get<std::int64_t>() < 1 ||
        port->get<std::int64_t>() > 65535) {
      return Bad(where + "field \"port\"",
                 fmt::format("expected an integer in 1..65535, got {}", port->dump()));
    }
    n.port = port->get<int>();
    FAULTLINE_ASSIGN_OR_RETURN(n.user, String(obj, where, "user"));
    FAULTLINE_ASSIGN_OR_RETURN(n.identity_file, String(obj, where, "identity_file"));
    FAULTLINE_ASSIGN_OR_RETURN(n.known_hosts, String(obj, where, "known_hosts"));
    FAULTLINE_ASSIGN_OR_RETURN(auto address, OptionalString(obj, where, "address"));
    in_addr a{};
    if (address.has_value()) {
      if (::inet_pton(AF_INET, address->c_str(), &a) != 1) {
        return Bad(where + "field \"address\"",
                   fmt::format("\"{}\" is not an IPv4 address", *address));
      }
      n.address = *address;
    } else if (::inet_pton(AF_INET, n.host.c_str(), &a) == 1) {
      n.address = n.host;
    } else {
      return Bad(where + "field \"address\"",
                 fmt::format("missing, and host \"{}\" is not an IPv4 address (give the address "
                             "the node's peers see)",
                             n.host));
    }
    if (const auto opts = obj.find("ssh_options"); opts != obj.end()) {
      if (!opts->is_array()) return Bad(where + "field \"ssh_options\"", "expected an array");
      for (const auto& o : *opts) {
        if (!o.is_string() || o.get<std::string>().find('=') == std::string::npos) {
          return Bad(where + "field \"ssh_options\"",
                     fmt::format("{}: expected a string \"Key=Value\"", o.dump()));
        }
        n.ssh_options.push_back(o.get<std::string>());
      }
    }
    FAULTLINE_ASSIGN_OR_RETURN(auto client_address, OptionalString(obj, where, "client_address"));
    if (client_address.has_value()) {
      if (::inet_pton(AF_INET, client_address->c_str(), &a) != 1) {
        return Bad(where + "field \"client_address\"",
                   fmt::format("\"{}\" is not an IPv4 address", *client_address));
      }
      n.client_address = *client_address;
    }
    FAULTLINE_ASSIGN_OR_RETURN(n.client_port, OptionalPort(obj, where, "client_port"));
    for (auto [key, field] :
         {std::pair<const char*, std::string*>{"data_dir", &n.data_dir}, {"log_dir", &n.log_dir}}) {
      FAULTLINE_ASSIGN_OR_RETURN(auto dir, OptionalString(obj, where, key));
      if (!dir) continue;
      if (dir->front() != '/') {
        return Bad(where + fmt::format("field \"{}\"", key),
                   fmt::format("\"{}\" is not an absolute path", *dir));
      }
      *field = *dir;
    }
    FAULTLINE_RETURN_IF_ERROR(Db(obj, where, db_required, n.db));
    return n;
  }

  Result<NodesFile> File(std::string_view text) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      return Bad("json", e.what());
    }
    if (!doc.is_object()) return Bad("top level", "expected an object");
    NodesFile file;
    FAULTLINE_ASSIGN_OR_RETURN(file.cluster, String(doc, "", "cluster"));
    FAULTLINE_ASSIGN_OR_RETURN(auto system, OptionalString(doc, "", "system"));
    if (system.has_value()) {
      file.system = *system;
      if (NamesSystemFile(*system)) {
        namespace fs = std::filesystem;
        fs::path p(*system);
        if (p.is_relative()) p = fs::path(source_).parent_path() / p;
        std::error_code ec;
        fs::path abs = fs::absolute(p, ec);
        file.system = (ec ? p : abs).lexically_normal().string();
      }
    }
    // etcd's commands come from the nodes file; another system brings its own.
    const bool db_required = file.system.empty() || file.system == "etcd";
    const auto nodes = doc.find("nodes");
    if (nodes == doc.end()) return Bad("field \"nodes\"", "missing");
    if (!nodes->is_array() || nodes->empty()) {
      return Bad("field \"nodes\"", "expected a non-empty array");
    }
    std::set<std::string> names;
    std::set<std::pair<std::string, int>> hosts;
    for (size_t i = 0; i < nodes->size(); ++i) {
      FAULTLINE_ASSIGN_OR_RETURN(SshNode n, Node((*nodes)[i], i, db_required));
      if (!names.insert(n.name).second) {
        return Bad(fmt::format("nodes[{}]", i), fmt::format("node name {} used twice", n.name));
      }
      if (!hosts.insert({n.host, n.port}).second) {
        return Bad(fmt::format("nodes[{}] ({})", i, n.name),
                   fmt::format("host {} port {} used twice", n.host, n.port));
      }
      file.nodes.push_back(std::move(n));
    }
    return file;
  }

 private:
  std::string source_;
};

}  // namespace

bool NamesSystemFile(std::string_view system) {
  return system.find('/') != std::string_view::npos || system.ends_with(".json");
}

Result<NodesFile> ParseNodesFile(std::string_view json_text, std::string_view source) {
  return Parser(source).File(json_text);
}

Result<NodesFile> ReadNodesFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    return MakeError(text.error().code(),
                     fmt::format("nodes file {}: cannot open (does it exist?)", path));
  }
  return ParseNodesFile(*text, path);
}

std::string FormatNodesFile(const NodesFile& file) {
  nlohmann::ordered_json doc;
  doc["cluster"] = file.cluster;
  if (!file.system.empty()) doc["system"] = file.system;
  doc["nodes"] = nlohmann::ordered_json::array();
  for (const auto& n : file.nodes) {
    nlohmann::ordered_json node;
    node["name"] = n.name;
    node["host"] = n.host;
    node["port"] = n.port;
    node["user"] = n.user;
    node["identity_file"] = n.identity_file;
    node["known_hosts"] = n.known_hosts;
    node["address"] = n.address;
    if (!n.client_address.empty()) node["client_address"] = n.client_address;
    if (n.client_port != 0) node["client_port"] = n.client_port;
    if (!n.ssh_options.empty()) node["ssh_options"] = n.ssh_options;
    if (!n.data_dir.empty()) node["data_dir"] = n.data_dir;
    if (!n.log_dir.empty()) node["log_dir"] = n.log_dir;
    if (!n.db.start.empty()) {
      nlohmann::ordered_json db;
      db["start"] = n.db.start;
      db["kill"] = n.db.kill;
      db["pid"] = n.db.pid;
      if (n.db.data_dir) db["data_dir"] = *n.db.data_dir;
      node["db"] = std::move(db);
    }
    doc["nodes"].push_back(std::move(node));
  }
  return doc.dump(2) + "\n";
}

}  // namespace faultline::cluster
