#pragma once
// TensorStructure: the values a forward may take and return besides one Tensor, and their flat
// form. Hooks, containers, initialize(), summary() and DataParallel see a call as two flat lists of
// tensors (docs/design.md, decision 23); these functions go between the typed and the flat form.
//
// A TensorStructure is
//   - a Tensor (an undefined one too: PyTorch's None),
//   - a std::vector<Tensor> (any length),
//   - a std::pair or std::tuple of TensorStructures,
//   - an aggregate struct of up to 12 public TensorStructure fields, found without a macro:
//         struct VAEOutput { Tensor reconstruction, mu, logvar; };   // flattens to 3 tensors
// Flattening is depth first in declaration order.

#include <lazynn/error.hpp>
#include <lazynn/tensor.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace lazynn {

namespace detail {

/// Converts to anything in unevaluated brace-initialisation: counts an aggregate's fields.
struct AnyField {
    template <class T>
    operator T() const;  // never defined
};

template <class T, std::size_t... I>
constexpr bool brace_constructible_from(std::index_sequence<I...>) {
    return requires { T{(static_cast<void>(I), AnyField{})...}; };
}

/// How many fields aggregate T has (the most AnyFields it can be brace-initialised from), up to 12.
template <class T, std::size_t N = 12>
constexpr std::size_t aggregate_field_count() {
    if constexpr (N == 0) {
        return 0;
    } else if constexpr (brace_constructible_from<T>(std::make_index_sequence<N>{})) {
        return N;
    } else {
        return aggregate_field_count<T, N - 1>();
    }
}

/// The fields of aggregate `v` as a tuple of references (structured bindings; no macro).
template <class T>
constexpr auto aggregate_fields(T& v) {
    constexpr std::size_t n = aggregate_field_count<std::remove_const_t<T>>();
    if constexpr (n == 1) {
        auto& [a] = v;
        return std::tie(a);
    } else if constexpr (n == 2) {
        auto& [a, b] = v;
        return std::tie(a, b);
    } else if constexpr (n == 3) {
        auto& [a, b, c] = v;
        return std::tie(a, b, c);
    } else if constexpr (n == 4) {
        auto& [a, b, c, d] = v;
        return std::tie(a, b, c, d);
    } else if constexpr (n == 5) {
        auto& [a, b, c, d, e] = v;
        return std::tie(a, b, c, d, e);
    } else if constexpr (n == 6) {
        auto& [a, b, c, d, e, f] = v;
        return std::tie(a, b, c, d, e, f);
    } else if constexpr (n == 7) {
        auto& [a, b, c, d, e, f, g] = v;
        return std::tie(a, b, c, d, e, f, g);
    } else if constexpr (n == 8) {
        auto& [a, b, c, d, e, f, g, h] = v;
        return std::tie(a, b, c, d, e, f, g, h);
    } else if constexpr (n == 9) {
        auto& [a, b, c, d, e, f, g, h, i] = v;
        return std::tie(a, b, c, d, e, f, g, h, i);
    } else if constexpr (n == 10) {
        auto& [a, b, c, d, e, f, g, h, i, j] = v;
        return std::tie(a, b, c, d, e, f, g, h, i, j);
    } else if constexpr (n == 11) {
        auto& [a, b, c, d, e, f, g, h, i, j, k] = v;
        return std::tie(a, b, c, d, e, f, g, h, i, j, k);
    } else {
        static_assert(n == 12, "an aggregate TensorStructure has 1 to 12 fields");
        auto& [a, b, c, d, e, f, g, h, i, j, k, l] = v;
        return std::tie(a, b, c, d, e, f, g, h, i, j, k, l);
    }
}

template <class T>
struct is_tuple_like : std::false_type {};
template <class... Ts>
struct is_tuple_like<std::tuple<Ts...>> : std::true_type {};
template <class A, class B>
struct is_tuple_like<std::pair<A, B>> : std::true_type {};

template <class T>
constexpr bool is_tensor_structure();

template <class Tuple, std::size_t... I>
constexpr bool all_elements_are_structures(std::index_sequence<I...>) {
    return (is_tensor_structure<std::remove_cvref_t<std::tuple_element_t<I, Tuple>>>() && ...);
}

template <class T>
constexpr bool is_tensor_structure() {
    if constexpr (std::is_same_v<T, Tensor> || std::is_same_v<T, std::vector<Tensor>>) {
        return true;
    } else if constexpr (is_tuple_like<T>::value) {
        return all_elements_are_structures<T>(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else if constexpr (std::is_aggregate_v<T> && !std::is_array_v<T> && std::is_class_v<T>) {
        constexpr std::size_t n = aggregate_field_count<T>();
        if constexpr (n == 0) {
            return false;
        } else {
            using Fields = decltype(aggregate_fields(std::declval<T&>()));
            return all_elements_are_structures<Fields>(std::make_index_sequence<n>{});
        }
    } else {
        return false;
    }
}

/// Whether the flat form of T has the same length for every value (no std::vector<Tensor> inside).
template <class T>
constexpr bool has_fixed_size();

template <class Tuple, std::size_t... I>
constexpr bool all_elements_fixed(std::index_sequence<I...>) {
    return (has_fixed_size<std::remove_cvref_t<std::tuple_element_t<I, Tuple>>>() && ...);
}

template <class T>
constexpr bool has_fixed_size() {
    if constexpr (std::is_same_v<T, Tensor>) {
        return true;
    } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
        return false;
    } else if constexpr (is_tuple_like<T>::value) {
        return all_elements_fixed<T>(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else {
        using Fields = decltype(aggregate_fields(std::declval<T&>()));
        return all_elements_fixed<Fields>(std::make_index_sequence<std::tuple_size_v<Fields>>{});
    }
}

}  // namespace detail

/// A value a forward may take or return (see the file comment).
template <class T>
concept TensorStructure = detail::is_tensor_structure<std::remove_cvref_t<T>>();

/// Appends the tensors of `value` to `out`, depth first in declaration order.
template <TensorStructure T>
void flatten_into(const T& value, std::vector<Tensor>& out) {
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<V, Tensor>) {
        out.push_back(value);
    } else if constexpr (std::is_same_v<V, std::vector<Tensor>>) {
        out.insert(out.end(), value.begin(), value.end());
    } else if constexpr (detail::is_tuple_like<V>::value) {
        std::apply([&out](const auto&... element) { (flatten_into(element, out), ...); }, value);
    } else {
        std::apply([&out](const auto&... field) { (flatten_into(field, out), ...); }, detail::aggregate_fields(value));
    }
}

/// The tensors of all `values`, in order.
template <TensorStructure... T>
std::vector<Tensor> flatten(const T&... values) {
    std::vector<Tensor> out;
    (flatten_into(values, out), ...);
    return out;
}

/// A T with the layout of `like` (the same vector lengths) holding tensors[pos], tensors[pos + 1],
/// ...; advances pos past them.
///   requires: tensors has enough elements from pos (ValueError naming `who` otherwise).
template <TensorStructure T>
T rebuild_like(const T& like, const std::vector<Tensor>& tensors, std::size_t& pos, const std::string& who) {
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<V, Tensor>) {
        if (pos >= tensors.size()) {
            throw ValueError(who + ": expected at least " + std::to_string(pos + 1) + " tensors, got " +
                             std::to_string(tensors.size()));
        }
        return tensors[pos++];
    } else if constexpr (std::is_same_v<V, std::vector<Tensor>>) {
        if (pos + like.size() > tensors.size()) {
            throw ValueError(who + ": expected at least " + std::to_string(pos + like.size()) + " tensors, got " +
                             std::to_string(tensors.size()));
        }
        V out(tensors.begin() + static_cast<std::ptrdiff_t>(pos),
              tensors.begin() + static_cast<std::ptrdiff_t>(pos + like.size()));
        pos += like.size();
        return out;
    } else if constexpr (detail::is_tuple_like<V>::value) {
        // Braced initialisation evaluates left to right, so the elements take tensors in order.
        return std::apply([&](const auto&... element) { return V{rebuild_like(element, tensors, pos, who)...}; }, like);
    } else {
        return std::apply([&](const auto&... field) { return V{rebuild_like(field, tensors, pos, who)...}; },
                          detail::aggregate_fields(like));
    }
}

/// Whether every value of T flattens to the same number of tensors (no std::vector<Tensor>).
template <TensorStructure T>
constexpr bool has_fixed_size() {
    return detail::has_fixed_size<std::remove_cvref_t<T>>();
}

/// A T of fixed size built from tensors[pos...] without a model value (what a container calling a
/// typed module through its flat form needs); advances pos.
template <TensorStructure T>
requires(has_fixed_size<T>()) T
    unflatten(const std::vector<Tensor>& tensors, std::size_t& pos, const std::string& who) {
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<V, Tensor>) {
        if (pos >= tensors.size()) {
            throw ValueError(who + ": expected at least " + std::to_string(pos + 1) + " tensors, got " +
                             std::to_string(tensors.size()));
        }
        return tensors[pos++];
    } else if constexpr (detail::is_tuple_like<V>::value) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return V{unflatten<std::remove_cvref_t<std::tuple_element_t<I, V>>>(tensors, pos, who)...};
        }
        (std::make_index_sequence<std::tuple_size_v<V>>{});
    } else {
        using Fields = decltype(detail::aggregate_fields(std::declval<V&>()));
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return V{unflatten<std::remove_cvref_t<std::tuple_element_t<I, Fields>>>(tensors, pos, who)...};
        }
        (std::make_index_sequence<std::tuple_size_v<Fields>>{});
    }
}

}  // namespace lazynn
