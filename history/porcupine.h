// Porcupine's test-data formats (../shared/FORMATS.md §2). The kv format is EDN, one map per line,
// and is read by ReadEdnHistory; this header covers the etcd Jepsen log.
//
// Thread-safety: free functions without shared state.
#ifndef FAULTLINE_HISTORY_PORCUPINE_H_
#define FAULTLINE_HISTORY_PORCUPINE_H_

#include <string_view>

#include "common/result.h"
#include "history/history.h"

namespace faultline::history {

// Reads `INFO jepsen.util - P :type :f VALUE` lines. There are no timestamps: op i gets time i and
// index i. Values: nil, an integer, [a b] (a vector), or :timed-out. `:fail :read :timed-out`
// closes the read with value nil and error :timed-out; `:info` completions keep the invocation's
// value and carry error :timed-out.
Result<History> ReadEtcdLog(std::string_view text, std::string_view source);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_PORCUPINE_H_
