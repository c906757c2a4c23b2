// The models Check searches with (STYLE.md §9): pure state machines over typed inputs, decoded
// once from history ops before the search. Each satisfies internal::Model (engine.h).
//
// Semantics, shared by every model (issue 3, ../shared/FORMATS.md §1.3):
// - an ok op took effect once, within its interval; its completion's value is the result;
// - a fail op never took effect: both halves are dropped (Decode returns no call);
// - an info op, or an invocation that never completed, may take effect at any time after its
//   invocation, or never; its result is unknown. An info read constrains nothing and is dropped;
// - nil, "" and 0 are distinct values.
// Op shapes per model are listed on each class. An op the model cannot decode (a cas whose value
// is not [old new], an unknown f) is an input error naming the op.
//
// Thread-safety: Decode and the constructors intern values and are single-threaded; afterwards the
// const members (Init, Step, Describe...) may be called from many threads.
#ifndef FAULTLINE_CHECKER_MODELS_H_
#define FAULTLINE_CHECKER_MODELS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "history/op.h"
#include "history/value.h"

namespace faultline::checker {

// Values interned to dense ids, so that states and inputs compare and hash as integers.
class ValueTable {
 public:
  int32_t Intern(const history::Value& v);
  const history::Value& Get(int32_t id) const { return values_[static_cast<size_t>(id)]; }
  std::string Edn(int32_t id) const { return Get(id).ToEdn(); }

 private:
  std::unordered_map<history::Value, int32_t, history::ValueHash> ids_;
  std::vector<history::Value> values_;
};

// An op as a model sees it: input, output, and whether the output is known (ok) or not (info).
template <typename Input, typename Output>
struct DecodedOp {
  Input in;
  Output out;
  bool info = false;
};

inline uint64_t HashCombine(uint64_t seed, uint64_t v) {
  return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

// register (read / write) and cas-register (read / write / cas [old new]). The register holds an
// interned value; it starts as nil unless an initial value is given.
class RegisterModel {
 public:
  using State = int32_t;
  struct Input {
    enum class Kind : uint8_t { kRead, kWrite, kCas };
    Kind kind = Kind::kRead;
    int32_t a = -1;  // write: the value; cas: old
    int32_t b = -1;  // cas: new
    bool operator==(const Input&) const = default;
  };
  struct Output {
    enum class Kind : uint8_t { kUnknown, kValue, kOk, kFail };
    Kind kind = Kind::kUnknown;
    int32_t value = -1;  // read: the value read
  };
  using Decoded = DecodedOp<Input, Output>;

  // allow_cas: cas-register. fail_cas_compares: keep a failed cas as "the compare was false"
  // (Porcupine's etcd model) instead of dropping it.
  static Result<RegisterModel> Make(bool allow_cas, const std::optional<history::Value>& initial,
                                    bool fail_cas_compares = false);

  State Init() const { return initial_; }
  std::optional<State> Step(State s, const Input& in, const Output& out) const {
    switch (in.kind) {
      case Input::Kind::kRead:
        if (out.kind != Output::Kind::kValue || out.value == s) return s;
        return std::nullopt;
      case Input::Kind::kWrite:
        return in.a;
      case Input::Kind::kCas:
        if (out.kind == Output::Kind::kFail) {
          if (s != in.a) return s;
          return std::nullopt;
        }
        if (s == in.a) return in.b;
        return std::nullopt;
    }
    return std::nullopt;
  }
  bool ReadOnly(const Input& in) const { return in.kind == Input::Kind::kRead; }
  bool Accepts(State s, const Input& /*in*/, const Output& out) const {
    return out.kind != Output::Kind::kValue || out.value == s;
  }
  uint64_t HashState(State s) const { return static_cast<uint64_t>(s); }
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(State s) const { return values_.Edn(s); }
  static constexpr std::string_view kHolds = "the register holds";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);

 private:
  bool allow_cas_ = true;
  bool fail_cas_compares_ = false;
  ValueTable values_;
  int32_t initial_ = 0;
};

// kv: get / put / append of strings on one key (the engine's partition), Porcupine's kv model.
// Op::key names the key; every key starts as "" unless an initial string is given.
// With `whole_map` (model "kv-unpartitioned") the state is every key's string at once, which is
// what Porcupine's single-partition tests measure.
//
// Reads return long concatenations of appended values, so a string is kept as a persistent list
// of the chunks appended since the last put, with a polynomial hash and length maintained on each
// append: a step costs O(1) instead of copying and rehashing the string. Equal hashes are always
// confirmed by comparing the text, so a hash collision costs time, never a wrong verdict.
class KvModel {
 public:
  struct Chunk {
    std::shared_ptr<const Chunk> prev;
    const std::string* text = nullptr;  // owned by the Input (or the model, for the initial value)
  };
  struct Str {
    uint64_t hash = 0;
    uint64_t len = 0;
    std::shared_ptr<const Chunk> tail;  // the last chunk; nullptr for ""
    std::string Text() const;
    bool operator==(const Str& o) const {
      return hash == o.hash && len == o.len && (tail == o.tail || SameText(o));
    }
    // Equal lengths assumed. Walks both chunk lists back while they hold the same op's text (the
    // common case: one string built along two paths), building the strings only otherwise.
    bool SameText(const Str& o) const;
    // Whether the text is `text`, compared chunk by chunk from the end without building it.
    bool Equals(std::string_view text) const;
    // Whether `text` starts with this string, compared chunk by chunk without building it.
    bool IsPrefixOf(std::string_view text) const {
      return len <= text.size() && Equals(text.substr(0, len));
    }
  };
  using State = std::vector<Str>;  // one string per key slot (one slot when partitioned)
  struct Input {
    enum class Kind : uint8_t { kGet, kPut, kAppend };
    Kind kind = Kind::kGet;
    int32_t slot = 0;  // the key; it indexes the state only with whole_map
    std::string arg;
    uint64_t hash = 0;   // of arg
    uint64_t power = 1;  // kBase^arg.size()
    bool operator==(const Input& o) const {
      return kind == o.kind && slot == o.slot && arg == o.arg;
    }
  };
  struct Output {
    bool known = false;
    bool nil = false;  // a get that returned nil, which no string equals
    std::string value;
    uint64_t hash = 0;  // of value
  };
  using Decoded = DecodedOp<Input, Output>;

  static Result<KvModel> Make(bool whole_map, const std::optional<history::Value>& initial);

  bool whole_map() const { return whole_map_; }
  State Init() const;
  std::optional<State> Step(const State& s, const Input& in, const Output& out) const {
    const size_t slot = whole_map_ ? static_cast<size_t>(in.slot) : 0;
    switch (in.kind) {
      case Input::Kind::kGet:
        if (Accepts(s, in, out)) return s;
        return std::nullopt;
      case Input::Kind::kPut: {
        State t = s;
        t[slot] =
            Str{.hash = in.hash,
                .len = in.arg.size(),
                .tail = std::make_shared<const Chunk>(Chunk{.prev = nullptr, .text = &in.arg})};
        return t;
      }
      case Input::Kind::kAppend: {
        if (in.arg.empty()) return s;
        State t = s;
        const Str& old = s[slot];
        t[slot] =
            Str{.hash = old.hash * in.power + in.hash,
                .len = old.len + in.arg.size(),
                .tail = std::make_shared<const Chunk>(Chunk{.prev = old.tail, .text = &in.arg})};
        return t;
      }
    }
    return std::nullopt;
  }
  bool ReadOnly(const Input& in) const { return in.kind == Input::Kind::kGet; }
  bool Accepts(const State& s, const Input& in, const Output& out) const {
    if (!out.known) return true;
    if (out.nil) return false;
    const Str& v = s[whole_map_ ? static_cast<size_t>(in.slot) : 0];
    return v.hash == out.hash && v.len == out.value.size() && v.Equals(out.value);
  }
  // Regions are key slots mod 64; only a put resets one, appends grow it (see HasGrowing in
  // internal/engine.h).
  uint64_t Resets(const Input& in) const {
    return in.kind == Input::Kind::kPut ? uint64_t{1} << Region(in) : 0;
  }
  uint64_t Reads(const Input& in) const { return uint64_t{1} << Region(in); }
  // The same regions let the search learn failures per region (HasRegions in internal/engine.h):
  // an op looks at and changes its key's string only. Project blanks the keys outside `mask`.
  uint32_t Region(const Input& in) const {
    return whole_map_ ? static_cast<uint32_t>(in.slot) % 64 : 0;
  }
  State Project(const State& s, uint64_t mask) const {
    State t = s;
    for (size_t i = 0; i < t.size(); ++i) {
      if (((mask >> (i % 64)) & 1) == 0) t[i] = Str{};
    }
    return t;
  }
  State Overlay(const State& s, const State& t, uint64_t mask) const {
    State u = s;
    for (size_t i = 0; i < u.size(); ++i) {
      if (((mask >> (i % 64)) & 1) != 0) u[i] = t[i];
    }
    return u;
  }
  // Appends can make the string read by a get only if the current string is a prefix of it.
  bool CanReach(const State& s, const Input& in, const Output& out) const {
    if (!out.known) return true;
    if (out.nil) return false;
    return s[whole_map_ ? static_cast<size_t>(in.slot) : 0].IsPrefixOf(out.value);
  }
  uint64_t HashState(const State& s) const;
  // The vector's buffer and the one chunk a Step adds (with their allocation overheads); the other
  // chunks are shared with the state it stepped from.
  size_t StateBytes(const State& s) const {
    return s.size() * sizeof(Str) + 16 + sizeof(Chunk) + 32;
  }
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(const State& s) const;
  static constexpr std::string_view kHolds = "the key holds";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);

 private:
  bool whole_map_ = false;
  // Heap-allocated so that chunks may point at it while the model is moved.
  std::shared_ptr<const std::string> initial_ = std::make_shared<const std::string>();
  std::vector<std::string> keys_;  // EDN of each slot's key
  std::unordered_map<std::string, int32_t> slots_;
};

// multi-register: `:write {k v ...}` writes several registers at once; `:read` completes with a
// map `{k v ...}` and each k must hold v. Registers start nil, or as given by an initial map.
class MultiRegisterModel {
 public:
  using State = std::vector<int32_t>;  // value id per register slot
  struct Input {
    enum class Kind : uint8_t { kRead, kWrite };
    Kind kind = Kind::kRead;
    std::vector<std::pair<int32_t, int32_t>> writes;  // (slot, value)
    bool operator==(const Input&) const = default;
  };
  struct Output {
    bool known = false;
    std::vector<std::pair<int32_t, int32_t>> reads;  // (slot, value)
  };
  using Decoded = DecodedOp<Input, Output>;

  static Result<MultiRegisterModel> Make(const std::optional<history::Value>& initial);

  // REQUIRES: every op decoded (slots are assigned by Decode).
  State Init() const;
  std::optional<State> Step(const State& s, const Input& in, const Output& out) const {
    if (in.kind == Input::Kind::kRead) {
      if (!out.known) return s;
      for (const auto& [slot, value] : out.reads) {
        if (SlotValue(s, slot) != value) return std::nullopt;
      }
      return s;
    }
    State t = s;
    for (const auto& [slot, value] : in.writes) {
      if (static_cast<size_t>(slot) >= t.size()) t.resize(static_cast<size_t>(slot) + 1, nil_);
      t[static_cast<size_t>(slot)] = value;
    }
    return t;
  }
  uint64_t HashState(const State& s) const;
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(const State& s) const;
  static constexpr std::string_view kHolds = "the registers hold";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);

 private:
  int32_t SlotValue(const State& s, int32_t slot) const {
    return static_cast<size_t>(slot) < s.size() ? s[static_cast<size_t>(slot)] : nil_;
  }
  Result<std::vector<std::pair<int32_t, int32_t>>> DecodeMap(const history::Value& v);
  int32_t Slot(const history::Value& key);

  ValueTable values_;
  std::vector<int32_t> key_ids_;  // slot -> key value id
  std::unordered_map<int32_t, int32_t> slots_;
  std::vector<std::pair<int32_t, int32_t>> initial_;
  int32_t nil_ = 0;
};

// set: `:add v`; `:read` completes with a collection of exactly the elements added. Starts empty,
// or with the given collection.
class SetModel {
 public:
  using State = std::vector<int32_t>;  // sorted, unique
  struct Input {
    enum class Kind : uint8_t { kAdd, kRead };
    Kind kind = Kind::kAdd;
    int32_t value = -1;
    bool operator==(const Input&) const = default;
  };
  struct Output {
    bool known = false;
    std::vector<int32_t> elements;  // sorted, unique
  };
  using Decoded = DecodedOp<Input, Output>;

  static Result<SetModel> Make(const std::optional<history::Value>& initial);

  State Init() const { return initial_; }
  std::optional<State> Step(const State& s, const Input& in, const Output& out) const {
    if (in.kind == Input::Kind::kRead) {
      if (!out.known || out.elements == s) return s;
      return std::nullopt;
    }
    auto it = std::lower_bound(s.begin(), s.end(), in.value);
    if (it != s.end() && *it == in.value) return s;
    State t;
    t.reserve(s.size() + 1);
    t.insert(t.end(), s.begin(), it);
    t.push_back(in.value);
    t.insert(t.end(), it, s.end());
    return t;
  }
  uint64_t HashState(const State& s) const;
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(const State& s) const;
  static constexpr std::string_view kHolds = "the set holds";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);

 private:
  Result<std::vector<int32_t>> Elements(const history::Value& v);
  ValueTable values_;
  State initial_;
};

// mutex: `:acquire` (legal only when free) and `:release` (legal only when held). Starts free, or
// held when the initial value is true.
class MutexModel {
 public:
  using State = bool;  // held
  struct Input {
    bool acquire = true;
    bool operator==(const Input&) const = default;
  };
  struct Output {
    bool known = false;
  };
  using Decoded = DecodedOp<Input, Output>;

  static Result<MutexModel> Make(const std::optional<history::Value>& initial);

  State Init() const { return initial_; }
  std::optional<State> Step(State s, const Input& in, const Output& /*out*/) const {
    if (in.acquire == s) return std::nullopt;
    return in.acquire;
  }
  uint64_t HashState(State s) const { return s ? 1 : 0; }
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(State s) const { return s ? "held" : "free"; }
  static constexpr std::string_view kHolds = "the mutex is";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);

 private:
  bool initial_ = false;
};

// fifo-queue and unordered-queue: `:enqueue v`; `:dequeue` completes with the element it removed,
// or nil when the queue was empty. fifo: the head; unordered: any equal element. An info dequeue,
// if it takes effect, removes the head (fifo) or any one element (unordered: decoded into one
// alternative per value the partition enqueues, at most one of which is linearized).
class QueueModel {
 public:
  using State = std::vector<int32_t>;  // fifo: head first; unordered: sorted multiset
  struct Input {
    enum class Kind : uint8_t { kEnqueue, kDequeue };
    Kind kind = Kind::kEnqueue;
    int32_t value = -1;  // enqueue: the element; unordered info dequeue: the alternative
    bool operator==(const Input&) const = default;
  };
  struct Output {
    bool known = false;
    bool empty = false;  // dequeue returned nil
    int32_t value = -1;
  };
  using Decoded = DecodedOp<Input, Output>;

  static Result<QueueModel> Make(bool fifo, const std::optional<history::Value>& initial);

  bool fifo() const { return fifo_; }
  State Init() const { return initial_; }
  std::optional<State> Step(const State& s, const Input& in, const Output& out) const {
    if (in.kind == Input::Kind::kEnqueue) {
      State t = s;
      if (fifo_) {
        t.push_back(in.value);
      } else {
        t.insert(std::upper_bound(t.begin(), t.end(), in.value), in.value);
      }
      return t;
    }
    if (out.known && out.empty) {
      if (s.empty()) return s;
      return std::nullopt;
    }
    const int32_t want = out.known ? out.value : in.value;
    if (s.empty()) return std::nullopt;
    if (fifo_) {
      if (out.known && s.front() != want) return std::nullopt;
      return State(s.begin() + 1, s.end());
    }
    auto it = std::lower_bound(s.begin(), s.end(), want);
    if (it == s.end() || *it != want) return std::nullopt;
    State t = s;
    t.erase(t.begin() + (it - s.begin()));
    return t;
  }
  uint64_t HashState(const State& s) const;
  std::string Describe(const Input& in, const Output& out) const;
  std::string DescribeState(const State& s) const;
  static constexpr std::string_view kHolds = "the queue holds";

  Result<std::vector<Decoded>> Decode(const history::Op& invoke, const history::Op* completion);
  // The values enqueued anywhere (for unordered info dequeue alternatives), sorted.
  std::vector<int32_t> EnqueuedValues() const;

 private:
  bool fifo_ = true;
  ValueTable values_;
  State initial_;
  std::vector<int32_t> enqueued_;
};

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_MODELS_H_
