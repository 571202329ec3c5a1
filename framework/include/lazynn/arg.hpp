#pragma once
// LAZYNN_ARG: the one options convention (docs/design.md, "Options"), PyTorch C++'s TORCH_ARG.
//
// Every configurable class takes an options struct whose knobs are private fields with a getter and
// a fluent setter of the same name:
//
//     struct LinearOptions {
//         LinearOptions(std::int64_t in_features, std::int64_t out_features);
//         LAZYNN_ARG(std::int64_t, in_features);
//         LAZYNN_ARG(std::int64_t, out_features);
//         LAZYNN_ARG(bool, bias) = true;          // a default follows the macro
//     };
//     nn::Linear fc(nn::LinearOptions(784, 256).bias(false));
//     fc.options().bias();                          // false
//
// Required arguments go through the constructor, optional ones through setters; choices are enums,
// not strings. The macro writes members only (never a class), so the options struct itself is a
// plain declaration that go-to-definition finds.

#include <utility>

/// Declares `name()` (const and mutable getters), `name(value)` (a setter returning *this) and the
/// private field `name_`. Follow it with `= default_value;` or `;`.
// A type cannot be parenthesised in a declaration, hence the exception.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define LAZYNN_ARG(T, name)                                  \
public:                                                      \
    auto& name(T new_##name) {                               \
        this->name##_ = std::move(new_##name);               \
        return *this;                                        \
    }                                                        \
    const T& name() const noexcept { return this->name##_; } \
    T& name() noexcept { return this->name##_; }             \
                                                             \
private:                                                     \
    T name##_
// NOLINTEND(bugprone-macro-parentheses)
