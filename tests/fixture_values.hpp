#pragma once
// Fixture tensors written as strings (tools/fixtures/gen_bfloat16.py, gen_autocast.py): every
// float as a string Python's float() reads back exactly ("nan", "inf", "-inf", "-0.0", repr),
// int64 values in decimal, bools as "True"/"False", 16-bit values as the exact floats they stand for.
#include <doctest/doctest.h>
#include <lazynn/lazynn.hpp>
#include <nlohmann/json.hpp>

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace lazynn::testing {

/// A fixture's dtype name ("bfloat16", "float32", ...) as a Dtype.
inline Dtype dtype_named(const std::string& name) {
    static const std::map<std::string, Dtype> dtypes{{"float32", kFloat32},   {"float64", kFloat64},
                                                     {"int64", kInt64},       {"bool", kBool},
                                                     {"bfloat16", kBFloat16}, {"float16", kFloat16}};
    REQUIRE_MESSAGE(dtypes.count(name) == 1, "unknown fixture dtype " << name);
    return dtypes.at(name);
}

inline double parse_value(const std::string& s) {
    if (s == "True") return 1.0;
    if (s == "False") return 0.0;
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    return std::stod(s);
}

inline std::vector<double> parse_values(const nlohmann::json& values) {
    std::vector<double> out;
    for (const auto& v : values) out.push_back(parse_value(v.get<std::string>()));
    return out;
}

/// {"shape", "data"} as a float64 tensor, where data holds numbers or, for what JSON cannot hold,
/// the strings "nan", "inf" and "-inf".
inline Tensor tensor_with_nonfinite(const nlohmann::json& entry) {
    std::vector<double> data;
    for (const auto& v : entry.at("data"))
        data.push_back(v.is_string() ? parse_value(v.get<std::string>()) : v.get<double>());
    return tensor(data, entry.at("shape").get<Shape>(), kFloat64);
}

/// {"dtype", "shape", "values"[, "requires_grad"]} as a tensor of that dtype. Every value is exact in
/// float64, so building in float64 and converting gives the bits PyTorch holds.
inline Tensor tensor_from_strings(const nlohmann::json& entry) {
    const Dtype dtype = dtype_named(entry.at("dtype"));
    Tensor t = tensor(parse_values(entry.at("values")), entry.at("shape").get<Shape>(), kFloat64).to(dtype);
    if (entry.value("requires_grad", false)) t.requires_grad_(true);
    return t;
}

}  // namespace lazynn::testing
