#pragma once
// A map that remembers insertion order and never grows past a capacity: the tracker's memory of
// recent things (finished ids, recent builds, failure messages, pending cache queries) must stay
// bounded whatever a stream does. Each entry carries the time it was stored, so callers can also
// expire entries by age, oldest first.
//
// Re-assigning a key moves it to the back (it is recent again). Not thread-safe: the owner locks.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

namespace nixmon::nod {

template <typename K, typename V, typename Hash = std::hash<K>>
class BoundedMap {
 public:
  struct Entry {
    K key;
    V value;
    int64_t stored_ms = 0;
  };

  explicit BoundedMap(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Stores (or replaces) `key`. Returns the entry pushed out to make room, if one was.
  std::optional<Entry> put(const K& key, V value, int64_t now_ms) {
    erase(key);
    order_.push_back(Entry{key, std::move(value), now_ms});
    index_.emplace(key, std::prev(order_.end()));
    if (order_.size() > capacity_) return pop_oldest();
    return std::nullopt;
  }

  V* find(const K& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->value;
  }
  const Entry* entry(const K& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &*it->second;
  }
  bool contains(const K& key) const { return index_.count(key) != 0; }

  bool erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  std::optional<Entry> pop_oldest() {
    if (order_.empty()) return std::nullopt;
    Entry e = std::move(order_.front());
    index_.erase(e.key);
    order_.pop_front();
    return e;
  }

  // Removes entries stored before `cutoff_ms`, oldest first, handing each to `gone`.
  template <typename F>
  void expire(int64_t cutoff_ms, F&& gone) {
    while (!order_.empty() && order_.front().stored_ms < cutoff_ms) gone(*pop_oldest());
  }

  // Removes every entry `pred` selects, in order, handing each to `gone`.
  template <typename P, typename F>
  void remove_if(P&& pred, F&& gone) {
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(*it)) {
        Entry e = std::move(*it);
        index_.erase(e.key);
        it = order_.erase(it);
        gone(std::move(e));
      } else {
        ++it;
      }
    }
  }

  // Oldest first.
  auto begin() { return order_.begin(); }
  auto end() { return order_.end(); }
  size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::list<Entry> order_;
  std::unordered_map<K, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace nixmon::nod
