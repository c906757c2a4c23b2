// faultline::tools::Generate: synthetic histories with known verdicts, the library behind
// `faultline history generate` (issue 3 §5).
//
// A linearizable history is built the way a real one arises: P processes issue ops one at a time
// with random invocation and completion times, each op takes effect at a linearization point
// chosen inside its interval, and reads return the model state at that point. An op completes as
// `info` with probability info_rate: it then takes effect at a random point after its invocation
// (possibly after its info completion) or never, and its process is retired (the thread continues
// as process + P, as in Jepsen). A cas whose compare is false at its point completes as `fail`.
//
// A planted violation (`violate`) is a short sequence of ops, on one key, run in a quiet window
// late in the history (no other op is open there; info ops invoked before it may still take
// effect inside it, which the shapes are immune to because they use values written nowhere
// else). Each shape makes the history non-linearizable whatever the rest does:
// - stale-read: write a, write b, then a read returns a.
// - lost-write: an acknowledged write is never visible: write a, write b, cas a->c (cas-register)
//   or read a (register); kv: put a, append b, append c, get returns a+c.
// - cas-chain (cas-register): write a, cas a->b, cas b->c, cas a->d all ok.
// - info-decides: write a, write b completes info, a read returns b, a later read returns a: the
//   first read needs the info write to have taken effect, the second needs it not to have.
// - phantom-read: a read returns a value never written.
// - contradictory-readers (issue 16): not in a quiet window but among many concurrent writers:
//   writes of a and b, and a write of a fresh value on every other process slot (some info), all
//   spanning one window; inside it reader A sees a then b, reader B sees b then a. Every read has
//   a concurrent writer of its value, so no local detector sees it; it needs 4 processes or more,
//   and adds processes - 4 writers to the 6 planted ops. kv plants it on a key of its own (puts
//   and gets only: a register of strings).
//
// Values: registers use integers 0..values-1 (planted values lie outside that range); kv uses
// strings of those integers, per key starting from "". With keys > 1, register and cas-register
// histories use Jepsen independent values [key value]; kv uses Op::key ("0", "1", ...).
//
// Thread-safety: Generate is a pure function of its options; call it from any thread.
#ifndef FAULTLINE_TOOLS_GENERATE_H_
#define FAULTLINE_TOOLS_GENERATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "history/history.h"

namespace faultline::tools {

struct GenerateOptions {
  std::string model = "cas-register";  // register, cas-register or kv
  size_t ops = 100;                    // client invocations, planted ones included
  size_t processes = 5;                // concurrent process slots
  double info_rate = 0.0;              // probability that an op completes as info
  size_t keys = 1;
  size_t values = 5;  // value domain 0..values-1
  uint64_t seed = 0;
  std::string violate;  // empty (linearizable) or one of ViolationShapes()
};

// The models Generate supports, sorted.
std::vector<std::string> GeneratorModels();
// The shapes accepted by GenerateOptions::violate, sorted.
std::vector<std::string> ViolationShapes();

// The same options (seed included) always give the same history. Errors: an unknown model or
// shape, a shape the model cannot express (cas-chain needs cas-register), zero processes, zero
// keys or values, an info_rate outside [0, 1], or too few ops for the shape.
Result<history::History> Generate(const GenerateOptions& options);

}  // namespace faultline::tools

#endif  // FAULTLINE_TOOLS_GENERATE_H_
