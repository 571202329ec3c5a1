#pragma once
// An insertion-ordered string-keyed map: the shape of a state_dict and of named traversals.
// Copy/move: value semantics (copying copies the values; for Tensors that means the handles).

#include <lazynn/error.hpp>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lazynn {

template <class Value>
class OrderedDict {
public:
    using Item = std::pair<std::string, Value>;

    OrderedDict() = default;
    OrderedDict(std::initializer_list<Item> items) {
        for (const auto& [k, v] : items) insert(k, v);
    }

    /// Inserts or replaces (keeping the original position).
    void insert(const std::string& key, Value value) {
        if (auto it = index_.find(key); it != index_.end()) {
            items_[it->second].second = std::move(value);
            return;
        }
        index_.emplace(key, items_.size());
        items_.emplace_back(key, std::move(value));
    }

    bool contains(const std::string& key) const { return index_.count(key) != 0; }

    const Value& at(const std::string& key) const {
        auto it = index_.find(key);
        if (it == index_.end()) throw KeyError("key '" + key + "' not found");
        return items_[it->second].second;
    }
    Value& at(const std::string& key) { return const_cast<Value&>(std::as_const(*this).at(key)); }
    const Value& operator[](const std::string& key) const { return at(key); }

    /// Removes `key` if present; returns whether it was.
    bool erase(const std::string& key) {
        auto it = index_.find(key);
        if (it == index_.end()) return false;
        items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(it->second));
        reindex();
        return true;
    }

    std::vector<std::string> keys() const {
        std::vector<std::string> k;
        for (const auto& item : items_) k.push_back(item.first);
        return k;
    }
    std::vector<Value> values() const {
        std::vector<Value> v;
        for (const auto& item : items_) v.push_back(item.second);
        return v;
    }

    std::size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    void clear() {
        items_.clear();
        index_.clear();
    }
    auto begin() { return items_.begin(); }
    auto end() { return items_.end(); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }
    const std::vector<Item>& items() const { return items_; }

private:
    void reindex() {
        index_.clear();
        for (std::size_t i = 0; i < items_.size(); ++i) index_.emplace(items_[i].first, i);
    }

    std::vector<Item> items_;
    std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace lazynn
