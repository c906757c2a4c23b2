#include "checker/models.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "checker/internal/flat_map.h"

namespace faultline::checker {
namespace {

using history::Op;
using history::OpType;
using history::Value;

enum class Completion { kOk, kFail, kInfo };

Completion KindOf(const Op* completion) {
  if (completion == nullptr) return Completion::kInfo;
  switch (completion->type) {
    case OpType::kOk:
      return Completion::kOk;
    case OpType::kFail:
      return Completion::kFail;
    default:
      return Completion::kInfo;
  }
}

Unexpected BadOp(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Unexpected UnknownF(std::string_view model, const Op& op, std::string_view expected) {
  return BadOp(fmt::format("{} model has no f :{} (expected {})", model, op.f, expected));
}

uint64_t HashIds(const std::vector<int32_t>& ids) {
  uint64_t h = ids.size();
  for (int32_t id : ids) h = HashCombine(h, internal::Mix64(static_cast<uint64_t>(id)));
  return h;
}

std::string Quote(std::string_view s) {
  std::string out;
  history::AppendQuoted(out, s);
  return out;
}

}  // namespace

int32_t ValueTable::Intern(const Value& v) {
  auto it = ids_.find(v);
  if (it != ids_.end()) return it->second;
  const auto id = static_cast<int32_t>(values_.size());
  values_.push_back(v);
  ids_.emplace(v, id);
  return id;
}

// ---- register / cas-register ----

Result<RegisterModel> RegisterModel::Make(bool allow_cas, const std::optional<Value>& initial,
                                          bool fail_cas_compares) {
  RegisterModel m;
  m.allow_cas_ = allow_cas;
  m.fail_cas_compares_ = fail_cas_compares;
  m.initial_ = m.values_.Intern(initial.value_or(Value::Nil()));
  return m;
}

Result<std::vector<RegisterModel::Decoded>> RegisterModel::Decode(const Op& invoke,
                                                                  const Op* completion) {
  const Completion c = KindOf(completion);
  const std::string_view name = allow_cas_ ? "cas-register" : "register";
  if (invoke.f == "read") {
    // An info or failed read constrains nothing and changes nothing.
    if (c != Completion::kOk) return std::vector<Decoded>{};
    return std::vector<Decoded>{Decoded{
        .in = Input{.kind = Input::Kind::kRead, .a = -1, .b = -1},
        .out = Output{.kind = Output::Kind::kValue, .value = values_.Intern(completion->value)},
        .info = false}};
  }
  if (invoke.f == "write") {
    if (c == Completion::kFail) return std::vector<Decoded>{};
    return std::vector<Decoded>{Decoded{
        .in = Input{.kind = Input::Kind::kWrite, .a = values_.Intern(invoke.value), .b = -1},
        .out = Output{.kind = c == Completion::kOk ? Output::Kind::kOk : Output::Kind::kUnknown,
                      .value = -1},
        .info = c == Completion::kInfo}};
  }
  if (invoke.f == "cas" && allow_cas_) {
    if (!invoke.value.is_sequential() || invoke.value.size() != 2) {
      return BadOp(fmt::format("cas value must be [old new], got {}", invoke.value.ToEdn()));
    }
    if (c == Completion::kFail && !fail_cas_compares_) return std::vector<Decoded>{};
    Output out{.kind = Output::Kind::kUnknown, .value = -1};
    if (c == Completion::kOk) out.kind = Output::Kind::kOk;
    if (c == Completion::kFail) out.kind = Output::Kind::kFail;
    return std::vector<Decoded>{Decoded{.in = Input{.kind = Input::Kind::kCas,
                                                    .a = values_.Intern(invoke.value.items()[0]),
                                                    .b = values_.Intern(invoke.value.items()[1])},
                                        .out = out,
                                        .info = c == Completion::kInfo}};
  }
  return UnknownF(name, invoke, allow_cas_ ? ":read, :write or :cas" : ":read or :write");
}

std::string RegisterModel::Describe(const Input& in, const Output& out) const {
  switch (in.kind) {
    case Input::Kind::kRead:
      return out.kind == Output::Kind::kValue ? fmt::format("read() -> {}", values_.Edn(out.value))
                                              : "read()";
    case Input::Kind::kWrite:
      return fmt::format("write({})", values_.Edn(in.a));
    case Input::Kind::kCas:
      return fmt::format("cas({}, {}){}", values_.Edn(in.a), values_.Edn(in.b),
                         out.kind == Output::Kind::kFail ? " -> fail" : "");
  }
  return "";
}

// ---- kv ----

namespace {

constexpr uint64_t kBase = 0x100000001b3ULL;

std::pair<uint64_t, uint64_t> HashText(std::string_view text) {
  uint64_t h = 0;
  uint64_t power = 1;
  for (char c : text) {
    h = h * kBase + static_cast<unsigned char>(c);
    power *= kBase;
  }
  return {h, power};
}

}  // namespace

std::string KvModel::Str::Text() const {
  std::vector<const std::string*> chunks;
  for (const Chunk* c = tail.get(); c != nullptr; c = c->prev.get()) chunks.push_back(c->text);
  std::string out;
  out.reserve(len);
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) out += **it;
  return out;
}

bool KvModel::Str::SameText(const Str& o) const {
  const Chunk* a = tail.get();
  const Chunk* b = o.tail.get();
  while (a != b) {
    if (a == nullptr || b == nullptr || a->text != b->text) return Text() == o.Text();
    a = a->prev.get();
    b = b->prev.get();
  }
  return true;
}

bool KvModel::Str::Equals(std::string_view text) const {
  if (text.size() != len) return false;
  size_t end = text.size();
  for (const Chunk* c = tail.get(); c != nullptr; c = c->prev.get()) {
    const std::string& piece = *c->text;
    if (piece.size() > end || text.compare(end - piece.size(), piece.size(), piece) != 0) {
      return false;
    }
    end -= piece.size();
  }
  return end == 0;
}

Result<KvModel> KvModel::Make(bool whole_map, const std::optional<Value>& initial) {
  KvModel m;
  m.whole_map_ = whole_map;
  if (initial) {
    if (!initial->is_string()) {
      return BadOp(fmt::format("kv initial value must be a string, got {}", initial->ToEdn()));
    }
    m.initial_ = std::make_shared<const std::string>(initial->text());
  }
  return m;
}

KvModel::State KvModel::Init() const {
  Str init;
  if (!initial_->empty()) {
    init =
        Str{.hash = HashText(*initial_).first,
            .len = initial_->size(),
            .tail = std::make_shared<const Chunk>(Chunk{.prev = nullptr, .text = initial_.get()})};
  }
  return State(whole_map_ ? keys_.size() : 1, init);
}

Result<std::vector<KvModel::Decoded>> KvModel::Decode(const Op& invoke, const Op* completion) {
  const Completion c = KindOf(completion);
  if (c == Completion::kFail) return std::vector<Decoded>{};
  if (whole_map_ && !invoke.key) return BadOp("kv op has no :key");
  std::string edn = invoke.key ? invoke.key->ToEdn() : std::string("nil");
  auto it = slots_.find(edn);
  if (it == slots_.end()) {
    it = slots_.emplace(edn, static_cast<int32_t>(keys_.size())).first;
    keys_.push_back(std::move(edn));
  }
  const int32_t slot = it->second;
  if (invoke.f == "get") {
    if (c != Completion::kOk) return std::vector<Decoded>{};
    const Value& v = completion->value;
    if (!v.is_string() && !v.is_nil()) {
      return BadOp(fmt::format("kv get must return a string or nil, got {}", v.ToEdn()));
    }
    Output out{.known = true, .nil = v.is_nil(), .value = {}, .hash = 0};
    if (v.is_string()) {
      out.value = v.text();
      out.hash = HashText(out.value).first;
    }
    return std::vector<Decoded>{Decoded{
        .in = Input{.kind = Input::Kind::kGet, .slot = slot, .arg = {}, .hash = 0, .power = 1},
        .out = std::move(out),
        .info = false}};
  }
  Input::Kind kind;
  if (invoke.f == "put") {
    kind = Input::Kind::kPut;
  } else if (invoke.f == "append") {
    kind = Input::Kind::kAppend;
  } else {
    return UnknownF("kv", invoke, ":get, :put or :append");
  }
  if (!invoke.value.is_string()) {
    return BadOp(
        fmt::format("kv {} value must be a string, got {}", invoke.f, invoke.value.ToEdn()));
  }
  const auto [hash, power] = HashText(invoke.value.text());
  return std::vector<Decoded>{Decoded{
      .in =
          Input{
              .kind = kind, .slot = slot, .arg = invoke.value.text(), .hash = hash, .power = power},
      .out = Output{.known = c == Completion::kOk, .nil = false, .value = {}, .hash = 0},
      .info = c == Completion::kInfo}};
}

uint64_t KvModel::HashState(const State& s) const {
  uint64_t h = s.size();
  for (const Str& v : s) h = HashCombine(h, internal::Mix64(v.hash ^ (v.len << 40)));
  return h;
}

std::string KvModel::Describe(const Input& in, const Output& out) const {
  const std::string& key = keys_[static_cast<size_t>(in.slot)];
  switch (in.kind) {
    case Input::Kind::kGet:
      if (!out.known) return fmt::format("get({})", key);
      return fmt::format("get({}) -> {}", key, out.nil ? std::string("nil") : Quote(out.value));
    case Input::Kind::kPut:
      return fmt::format("put({}, {})", key, Quote(in.arg));
    case Input::Kind::kAppend:
      return fmt::format("append({}, {})", key, Quote(in.arg));
  }
  return "";
}

std::string KvModel::DescribeState(const State& s) const {
  if (!whole_map_) return Quote(s[0].Text());
  std::string out = "{";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ", ";
    out += i < keys_.size() ? keys_[i] : "?";
    out += ' ';
    out += Quote(s[i].Text());
  }
  return out + "}";
}

// ---- multi-register ----

Result<MultiRegisterModel> MultiRegisterModel::Make(const std::optional<Value>& initial) {
  MultiRegisterModel m;
  m.nil_ = m.values_.Intern(Value::Nil());
  if (initial) {
    if (initial->kind() != history::ValueKind::kMap) {
      return BadOp(
          fmt::format("multi-register initial value must be a map, got {}", initial->ToEdn()));
    }
    FAULTLINE_ASSIGN_OR_RETURN(m.initial_, m.DecodeMap(*initial));
  }
  return m;
}

int32_t MultiRegisterModel::Slot(const Value& key) {
  const int32_t id = values_.Intern(key);
  auto it = slots_.find(id);
  if (it != slots_.end()) return it->second;
  const auto slot = static_cast<int32_t>(key_ids_.size());
  key_ids_.push_back(id);
  slots_.emplace(id, slot);
  return slot;
}

Result<std::vector<std::pair<int32_t, int32_t>>> MultiRegisterModel::DecodeMap(const Value& v) {
  if (v.kind() != history::ValueKind::kMap) {
    return BadOp(fmt::format("multi-register value must be a map {{k v ...}}, got {}", v.ToEdn()));
  }
  std::vector<std::pair<int32_t, int32_t>> pairs;
  for (size_t i = 0; i + 1 < v.items().size(); i += 2) {
    pairs.emplace_back(Slot(v.items()[i]), values_.Intern(v.items()[i + 1]));
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

MultiRegisterModel::State MultiRegisterModel::Init() const {
  State s(key_ids_.size(), nil_);
  for (const auto& [slot, value] : initial_) s[static_cast<size_t>(slot)] = value;
  return s;
}

Result<std::vector<MultiRegisterModel::Decoded>> MultiRegisterModel::Decode(const Op& invoke,
                                                                            const Op* completion) {
  const Completion c = KindOf(completion);
  if (c == Completion::kFail) return std::vector<Decoded>{};
  if (invoke.f == "read") {
    if (c != Completion::kOk) return std::vector<Decoded>{};
    FAULTLINE_ASSIGN_OR_RETURN(auto reads, DecodeMap(completion->value));
    return std::vector<Decoded>{Decoded{.in = Input{.kind = Input::Kind::kRead, .writes = {}},
                                        .out = Output{.known = true, .reads = std::move(reads)},
                                        .info = false}};
  }
  if (invoke.f == "write") {
    FAULTLINE_ASSIGN_OR_RETURN(auto writes, DecodeMap(invoke.value));
    return std::vector<Decoded>{
        Decoded{.in = Input{.kind = Input::Kind::kWrite, .writes = std::move(writes)},
                .out = Output{.known = c == Completion::kOk, .reads = {}},
                .info = c == Completion::kInfo}};
  }
  return UnknownF("multi-register", invoke, ":read or :write");
}

uint64_t MultiRegisterModel::HashState(const State& s) const { return HashIds(s); }

std::string MultiRegisterModel::Describe(const Input& in, const Output& out) const {
  auto pairs = [&](const std::vector<std::pair<int32_t, int32_t>>& ps) {
    std::string text = "{";
    for (size_t i = 0; i < ps.size(); ++i) {
      if (i > 0) text += ", ";
      text +=
          values_.Edn(key_ids_[static_cast<size_t>(ps[i].first)]) + " " + values_.Edn(ps[i].second);
    }
    return text + "}";
  };
  if (in.kind == Input::Kind::kWrite) return fmt::format("write({})", pairs(in.writes));
  return out.known ? fmt::format("read() -> {}", pairs(out.reads)) : "read()";
}

std::string MultiRegisterModel::DescribeState(const State& s) const {
  std::string text = "{";
  for (size_t i = 0; i < key_ids_.size(); ++i) {
    if (i > 0) text += ", ";
    text += values_.Edn(key_ids_[i]) + " " + values_.Edn(SlotValue(s, static_cast<int32_t>(i)));
  }
  return text + "}";
}

// ---- set ----

Result<std::vector<int32_t>> SetModel::Elements(const Value& v) {
  if (v.kind() != history::ValueKind::kSet && !v.is_sequential()) {
    return BadOp(fmt::format("set read must return a collection, got {}", v.ToEdn()));
  }
  std::vector<int32_t> ids;
  for (const Value& e : v.items()) ids.push_back(values_.Intern(e));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Result<SetModel> SetModel::Make(const std::optional<Value>& initial) {
  SetModel m;
  if (initial) {
    FAULTLINE_ASSIGN_OR_RETURN(m.initial_, m.Elements(*initial));
  }
  return m;
}

Result<std::vector<SetModel::Decoded>> SetModel::Decode(const Op& invoke, const Op* completion) {
  const Completion c = KindOf(completion);
  if (c == Completion::kFail) return std::vector<Decoded>{};
  if (invoke.f == "read") {
    if (c != Completion::kOk) return std::vector<Decoded>{};
    FAULTLINE_ASSIGN_OR_RETURN(auto elements, Elements(completion->value));
    return std::vector<Decoded>{
        Decoded{.in = Input{.kind = Input::Kind::kRead, .value = -1},
                .out = Output{.known = true, .elements = std::move(elements)},
                .info = false}};
  }
  if (invoke.f == "add") {
    return std::vector<Decoded>{
        Decoded{.in = Input{.kind = Input::Kind::kAdd, .value = values_.Intern(invoke.value)},
                .out = Output{.known = c == Completion::kOk, .elements = {}},
                .info = c == Completion::kInfo}};
  }
  return UnknownF("set", invoke, ":add or :read");
}

uint64_t SetModel::HashState(const State& s) const { return HashIds(s); }

std::string SetModel::Describe(const Input& in, const Output& out) const {
  if (in.kind == Input::Kind::kAdd) return fmt::format("add({})", values_.Edn(in.value));
  return out.known ? fmt::format("read() -> {}", DescribeState(out.elements)) : "read()";
}

std::string SetModel::DescribeState(const State& s) const {
  std::vector<std::string> parts;
  for (int32_t id : s) parts.push_back(values_.Edn(id));
  std::sort(parts.begin(), parts.end());
  return fmt::format("#{{{}}}", fmt::join(parts, " "));
}

// ---- mutex ----

Result<MutexModel> MutexModel::Make(const std::optional<Value>& initial) {
  MutexModel m;
  if (initial) {
    if (initial->kind() != history::ValueKind::kBool) {
      return BadOp(fmt::format("mutex initial value must be true (held) or false (free), got {}",
                               initial->ToEdn()));
    }
    m.initial_ = initial->as_bool();
  }
  return m;
}

Result<std::vector<MutexModel::Decoded>> MutexModel::Decode(const Op& invoke,
                                                            const Op* completion) {
  const Completion c = KindOf(completion);
  if (c == Completion::kFail) return std::vector<Decoded>{};
  if (invoke.f != "acquire" && invoke.f != "release") {
    return UnknownF("mutex", invoke, ":acquire or :release");
  }
  return std::vector<Decoded>{Decoded{.in = Input{.acquire = invoke.f == "acquire"},
                                      .out = Output{.known = c == Completion::kOk},
                                      .info = c == Completion::kInfo}};
}

std::string MutexModel::Describe(const Input& in, const Output& /*out*/) const {
  return in.acquire ? "acquire()" : "release()";
}

// ---- queues ----

Result<QueueModel> QueueModel::Make(bool fifo, const std::optional<Value>& initial) {
  QueueModel m;
  m.fifo_ = fifo;
  if (initial) {
    if (initial->kind() != history::ValueKind::kSet && !initial->is_sequential()) {
      return BadOp(
          fmt::format("queue initial value must be a collection, got {}", initial->ToEdn()));
    }
    for (const Value& v : initial->items()) m.initial_.push_back(m.values_.Intern(v));
    if (!fifo) std::sort(m.initial_.begin(), m.initial_.end());
    m.enqueued_ = m.initial_;
  }
  return m;
}

Result<std::vector<QueueModel::Decoded>> QueueModel::Decode(const Op& invoke,
                                                            const Op* completion) {
  const Completion c = KindOf(completion);
  if (c == Completion::kFail) return std::vector<Decoded>{};
  if (invoke.f == "enqueue") {
    const int32_t v = values_.Intern(invoke.value);
    enqueued_.push_back(v);
    return std::vector<Decoded>{
        Decoded{.in = Input{.kind = Input::Kind::kEnqueue, .value = v},
                .out = Output{.known = c == Completion::kOk, .empty = false, .value = -1},
                .info = c == Completion::kInfo}};
  }
  if (invoke.f == "dequeue") {
    if (c == Completion::kOk) {
      const Value& v = completion->value;
      return std::vector<Decoded>{Decoded{
          .in = Input{.kind = Input::Kind::kDequeue, .value = -1},
          .out =
              Output{
                  .known = true, .empty = v.is_nil(), .value = v.is_nil() ? -1 : values_.Intern(v)},
          .info = false}};
    }
    // Info: the value it may have removed is unknown; the caller expands unordered alternatives.
    return std::vector<Decoded>{Decoded{.in = Input{.kind = Input::Kind::kDequeue, .value = -1},
                                        .out = Output{.known = false, .empty = false, .value = -1},
                                        .info = true}};
  }
  return UnknownF(fifo_ ? "fifo-queue" : "unordered-queue", invoke, ":enqueue or :dequeue");
}

std::vector<int32_t> QueueModel::EnqueuedValues() const {
  std::vector<int32_t> v = enqueued_;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

uint64_t QueueModel::HashState(const State& s) const { return HashIds(s); }

std::string QueueModel::Describe(const Input& in, const Output& out) const {
  if (in.kind == Input::Kind::kEnqueue) return fmt::format("enqueue({})", values_.Edn(in.value));
  if (!out.known) return "dequeue()";
  return fmt::format("dequeue() -> {}", out.empty ? std::string("nil") : values_.Edn(out.value));
}

std::string QueueModel::DescribeState(const State& s) const {
  std::vector<std::string> parts;
  for (int32_t id : s) parts.push_back(values_.Edn(id));
  return fmt::format("[{}]", fmt::join(parts, " "));
}

}  // namespace faultline::checker
