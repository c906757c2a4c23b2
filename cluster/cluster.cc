#include "cluster/cluster.h"

#include <fmt/format.h>

namespace faultline::cluster {

std::string_view DbName(Db db) { return db == Db::kEtcd ? "etcd" : "none"; }

Result<Db> ParseDb(std::string_view name) {
  if (name == "etcd") return Db::kEtcd;
  if (name == "none") return Db::kNone;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown database '{}' (expected etcd or none)", name));
}

}  // namespace faultline::cluster
