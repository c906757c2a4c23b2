// The text under which a client stores an op's :key ("default" for an op without one): the
// integer's digits, a string's or keyword's text, else the key's EDN.
#ifndef FAULTLINE_CLIENT_KEY_H_
#define FAULTLINE_CLIENT_KEY_H_

#include <string>

#include "history/op.h"

namespace faultline::client {

inline std::string KeyText(const history::Op& op) {
  if (!op.key) return "default";
  const history::Value& k = *op.key;
  switch (k.kind()) {
    case history::ValueKind::kInt:
      return std::to_string(k.as_int());
    case history::ValueKind::kString:
    case history::ValueKind::kKeyword:
    case history::ValueKind::kSymbol:
    case history::ValueKind::kBigInt:
      return k.text();
    default:
      return k.ToEdn();
  }
}

}  // namespace faultline::client

#endif  // FAULTLINE_CLIENT_KEY_H_
