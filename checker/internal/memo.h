// The search's memo: configurations (linearized ok ops, model state, linearized info ops) known to
// fail. The search (engine.h) stores each failed configuration projected onto the regions that
// explain its failure: the key then says which regions (salted into the hashes), the projected
// state, and only those regions' ops. Not thread-safe: each search owns one.
//
// The set of linearized ok ops is identified by two independent 64-bit Zobrist hashes (XOR of a
// random word per op, updated incrementally), so a configuration costs 24 bytes whatever the
// history's length. Two different sets would have to agree on 128 hash bits to be confused; with
// 2^32 configurations that happens with probability below 2^-64.
//
// Info ops are kept as an explicit bitset because the memo prunes by dominance: a configuration
// with the same ok ops and state as an explored one, but a superset of its linearized info ops,
// cannot succeed where that one failed (an info op may always be left out, and each unused one is
// one more option), so it is pruned too.
#ifndef FAULTLINE_CHECKER_INTERNAL_MEMO_H_
#define FAULTLINE_CHECKER_INTERNAL_MEMO_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "checker/internal/flat_map.h"

namespace faultline::checker::internal {

// Bytes shared by all searches of one Check; a search reserves before it grows a table.
class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit_bytes) : limit_(limit_bytes) {}

  // False when the limit would be exceeded; nothing is reserved then.
  bool TryReserve(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    for (;;) {
      if (limit_ != 0 && used + bytes > limit_) return false;
      if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed)) break;
    }
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (used + bytes > peak &&
           !peak_.compare_exchange_weak(peak, used + bytes, std::memory_order_relaxed)) {
    }
    return true;
  }
  void Release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  size_t limit_;
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
};

// Accounts the bytes of a search's tables against a MemoryBudget and gives them back when done.
class Account {
 public:
  explicit Account(MemoryBudget& budget) : budget_(budget) {}
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;
  ~Account() { budget_.Release(held_); }

  bool Grow(size_t bytes) {
    if (!budget_.TryReserve(bytes)) return false;
    held_ += bytes;
    return true;
  }
  size_t held() const { return held_; }

 private:
  MemoryBudget& budget_;
  size_t held_ = 0;
};

class Memo {
 public:
  // info_words: 64-bit words of the info-op bitset (0 when the partition has no info ops).
  Memo(size_t info_words, Account& account) : words_(info_words), account_(account) {}

  bool Init() { return Resize(1024); }

  // Whether a stored configuration with the same key and a subset of `info` is in the memo.
  bool Seen(uint64_t h1, uint64_t h2, int32_t state, const uint64_t* info) const {
    const Slot* s = Find(h1, h2, state);
    if (s == nullptr) return false;
    if (words_ == 0) return true;
    // Dominance: pruned when a stored set of info ops is a subset of this one. Chains are short;
    // a long one is only scanned in part, which prunes less but stays sound.
    int scanned = 0;
    for (int64_t n = s->chain; n >= 0 && scanned < 64;
         n = static_cast<int64_t>(pool_[static_cast<size_t>(n)]), ++scanned) {
      const uint64_t* bits = &pool_[static_cast<size_t>(n) + 1];
      bool subset = true;
      for (size_t w = 0; w < words_; ++w) {
        if ((bits[w] & ~info[w]) != 0) {
          subset = false;
          break;
        }
      }
      if (subset) return true;
    }
    return false;
  }

  // Stores a configuration (unless Seen already); false when out of memory.
  bool Insert(uint64_t h1, uint64_t h2, int32_t state, const uint64_t* info) {
    if (Seen(h1, h2, state, info)) return true;
    if ((size_ + 1) * 4 > slots_.size() * 3 && !Resize(slots_.size() * 2)) return false;
    Slot* s = Find(h1, h2, state);
    if (s != nullptr) {
      const int64_t node = AddNode(s->chain, info);
      if (node < 0) return false;
      s->chain = node;
      return true;
    }
    int64_t node = -1;
    if (words_ != 0) {
      node = AddNode(-1, info);
      if (node < 0) return false;
    }
    const uint64_t h = h1 ^ Mix64(static_cast<uint64_t>(state) ^ h2);
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].state >= 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{.h1 = h1, .h2 = h2, .state = state, .chain = node};
    ++size_;
    return true;
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t h1 = 0;
    uint64_t h2 = 0;
    int32_t state = -1;  // -1: empty
    int64_t chain = -1;  // offset in pool_ of the newest info-set node, -1 none
  };

  const Slot* Find(uint64_t h1, uint64_t h2, int32_t state) const {
    const uint64_t h = h1 ^ Mix64(static_cast<uint64_t>(state) ^ h2);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.state < 0) return nullptr;
      if (s.h1 == h1 && s.h2 == h2 && s.state == state) return &s;
    }
  }
  Slot* Find(uint64_t h1, uint64_t h2, int32_t state) {
    return const_cast<Slot*>(std::as_const(*this).Find(h1, h2, state));
  }

  int64_t AddNode(int64_t next, const uint64_t* info) {
    const size_t need = pool_.size() + 1 + words_;
    if (need > pool_.capacity()) {
      size_t cap = pool_.capacity() < 1024 ? 1024 : pool_.capacity() * 2;
      while (cap < need) cap *= 2;
      if (!account_.Grow((cap - pool_.capacity()) * sizeof(uint64_t))) return -1;
      pool_.reserve(cap);
    }
    const auto offset = static_cast<int64_t>(pool_.size());
    pool_.push_back(static_cast<uint64_t>(next));
    pool_.insert(pool_.end(), info, info + words_);
    return offset;
  }

  bool Resize(size_t capacity) {
    if (!account_.Grow((capacity - slots_.size()) * sizeof(Slot))) return false;
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.state < 0) continue;
      const uint64_t h = s.h1 ^ Mix64(static_cast<uint64_t>(s.state) ^ s.h2);
      size_t i = h & (capacity - 1);
      while (slots_[i].state >= 0) i = (i + 1) & (capacity - 1);
      slots_[i] = s;
    }
    return true;
  }

  size_t words_;
  Account& account_;
  std::vector<Slot> slots_;
  std::vector<uint64_t> pool_;  // nodes: [next offset, info words...]
  size_t size_ = 0;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_MEMO_H_
