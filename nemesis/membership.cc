// The membership guard (the rest of membership faults lives in the Nemesis, nemesis.cc, and in
// the heal of "member-removed" ledger objects, internal/heal.cc).
#include "nemesis/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace faultline::nemesis {

Status CheckShrink(const std::vector<std::string>& original,
                   const std::vector<std::string>& members,
                   const std::vector<std::string>& removing, size_t max_out) {
  const std::string what = fmt::format("member-remove {}", fmt::join(removing, ","));
  const std::set<std::string> now(members.begin(), members.end());
  const std::set<std::string> out(removing.begin(), removing.end());
  for (const std::string& node : out) {
    if (!now.contains(node)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: {} is not a member now (members: {})", what, node,
                                   fmt::join(members, ",")));
    }
  }
  const size_t out_after = original.size() - (now.size() - out.size());
  if (out_after > max_out) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: would leave {} of the {} original nodes out of the "
                                 "membership; this system takes at most {} out at once",
                                 what, out_after, original.size(), max_out));
  }
  const size_t majority = original.size() / 2 + 1;
  const size_t left = now.size() - out.size();
  if (left >= majority) return OkStatus();
  const size_t may = now.size() > majority ? now.size() - majority : 0;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("{}: would leave {} of the {} original members, fewer than a "
                               "majority ({}); at most {} may be removed now",
                               what, left, original.size(), majority, may));
}

}  // namespace faultline::nemesis
