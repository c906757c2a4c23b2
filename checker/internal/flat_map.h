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
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  void Insert(uint64_t key, int32_t value) {
    if ((size_ + 1) * 4 > keys_.size() * 3) Rehash(keys_.size() * 2);
    for (size_t i = Mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) {
        values_[i] = value;
        return;
      }
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        ++size_;
        return;
      }
    }
  }

  size_t bytes() const { return keys_.capacity() * (sizeof(uint64_t) + sizeof(int32_t)); }
  // The bytes the table will hold after the next insertion.
  size_t bytes_after_insert() const {
    return (size_ + 1) * 4 > keys_.size() * 3 ? 2 * bytes() : bytes();
  }

 private:
  void Rehash(size_t capacity) {
    std::vector<uint64_t> old_keys(capacity, kEmpty);
    std::vector<int32_t> old_values(capacity, 0);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = capacity - 1;
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) Insert(old_keys[i], old_values[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<int32_t> values_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace faultline::checker::internal

#endif  // FAULTLINE_CHECKER_INTERNAL_FLAT_MAP_H_
