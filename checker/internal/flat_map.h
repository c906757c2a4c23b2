// A small open-addressing hash map from uint64_t keys to int32_t values, used by the search for
// its transition cache. Not thread-safe: each search owns its tables.
#ifndef FAULTLINE_CHECKER_INTERNAL_FLAT_MAP_H_
#define FAULTLINE_CHECKER_INTERNAL_FLAT_MAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace faultline::checker::internal {

// A 64-bit finalizer (splitmix64's), good enough to spread structured keys over buckets.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Keys must never equal kEmpty (all ones); callers build keys from two 32-bit halves, which never
// are both all ones here.
class FlatMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  FlatMap() { Rehash(16); }

  // The value for `key`, or nullptr.
  const int32_t* Find(uint64_t key) const {
    for (size_t i = Mix64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }

  void Insert(uint64_t key, int32_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
    for (size_t i = Mix64(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == key) {
        s.value = value;
        return;
      }
      if (s.key == kEmpty) {
        s = Slot{.key = key, .value = value};
        ++size_;
        return;
      }
    }
  }

  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }
  // The bytes the table will hold after the next insertion.
  size_t bytes_after_insert() const {
    return (size_ + 1) * 4 > slots_.size() * 3 ? 2 * bytes() : bytes();
  }

 private:
  // Key and value side by side: a lookup touches one cache line.
  struct Slot {
    uint64_t key = kEmpty;
    int32_t value = 0;
  };

  void Rehash(size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key != kEmpty) Insert(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_FLAT_MAP_H_
