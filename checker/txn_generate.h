// Synthetic transactional histories (list-append and rw-register) with known properties: the
// library behind `faultline history generate --model list-append|rw-register`, the checker's
// tests and its benchmark.
//
// The base history is strict serializable by construction: P processes run transactions one at a
// time; each takes effect atomically at its completion (inside its interval), reads return the
// state there, and appended or written values are unique per key. A transaction completes as info
// with probability info_rate (it then takes effect or not, at random, and its process retires as
// process + P, as in Jepsen) and as fail with fail_rate (no effect). A final transaction reads
// every key, so in list-append every committed append is observed.
//
// Noise, for the oracle tests (each makes some histories invalid, never in a planted way):
// stale_rate: a read returns an older state of its key; snapshot_rate: a transaction reads at its
// invocation and writes at its completion (snapshot-isolation-like: write skew, lost updates).
//
// A planted anomaly (`anomaly`, one of PlantedAnomalies(model)) is a fixed shape of a few
// transactions on fresh keys, run after the base history and before the final read, so it is the
// only anomaly of the history and the checker must name it.
//
// Thread-safety: a pure function of its options.
#ifndef FAULTLINE_CHECKER_TXN_GENERATE_H_
#define FAULTLINE_CHECKER_TXN_GENERATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "checker/txn_checker.h"
#include "common/result.h"
#include "history/history.h"

namespace faultline::checker {

struct TxnGenerateOptions {
  TxnModel model = TxnModel::kListAppend;
  size_t txns = 100;  // base transactions (the planted ones and the final read come on top)
  size_t processes = 5;
  size_t keys = 5;  // live keys at a time
  // A new key replaces the oldest one every `rotate_every` transactions (0: never), so lists stay
  // short in long histories, as in Jepsen's append workload.
  size_t rotate_every = 0;
  size_t min_ops = 1;
  size_t max_ops = 4;
  double read_share = 0.5;  // share of micro-ops that are reads
  double info_rate = 0.0;
  double fail_rate = 0.0;
  double stale_rate = 0.0;
  double snapshot_rate = 0.0;
  bool final_read = true;
  // Stamp each committed transaction that writes with a :revision increasing in commit order, as
  // etcd's reply header does (rw-register's checker then orders versions by it).
  bool revisions = false;
  uint64_t seed = 0;
  std::string anomaly;  // empty: none
};

// The anomaly kinds the generator can plant for `model`, sorted.
std::vector<std::string> PlantedAnomalies(TxnModel model);

Result<history::History> GenerateTxnHistory(const TxnGenerateOptions& options);

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_TXN_GENERATE_H_
