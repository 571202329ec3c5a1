#pragma once
// Helpers shared by the suites: fixture loading and tensor comparison.

#include <doctest/doctest.h>
#include <lazynn/lazynn.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>

namespace lazynn::testing {

inline nlohmann::json load_fixture(const std::string& name) {
    const std::string path = std::string(LAZYNN_FIXTURE_DIR) + "/" + name;
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "missing fixture " << path << " (regenerate with tools/fixtures/)");
    return nlohmann::json::parse(in);
}

/// A float64 tensor from a fixture entry {"shape": [...], "data": [...]}.
inline Tensor fixture_tensor(const nlohmann::json& entry, Dtype dtype = kFloat64) {
    const Shape shape = entry.at("shape").get<Shape>();
    const std::vector<double> data = entry.at("data").get<std::vector<double>>();
    return tensor(data, shape, kFloat64).to(dtype);
}

/// A fixture entry's dtype name ("float32", "float64", "int64", "bool") as a Dtype.
inline Dtype fixture_dtype(const std::string& name) {
    if (name == "float32") return kFloat32;
    if (name == "float64") return kFloat64;
    if (name == "bool") return kBool;
    REQUIRE_MESSAGE(name == "int64", "unknown fixture dtype " << name);
    return kInt64;
}

/// A fixture tensor {"shape", "data", "dtype"} in its own dtype; the strings "nan", "inf" and
/// "-inf" in data stand for the non-finite values JSON cannot hold.
inline Tensor typed_fixture_tensor(const nlohmann::json& entry) {
    std::vector<double> data;
    for (const auto& v : entry.at("data")) {
        if (v.is_string()) {
            const std::string s = v.get<std::string>();
            data.push_back(s == "nan" ? std::numeric_limits<double>::quiet_NaN()
                                      : (s == "inf" ? 1.0 : -1.0) * std::numeric_limits<double>::infinity());
        } else {
            data.push_back(v.get<double>());
        }
    }
    return tensor(data, entry.at("shape").get<Shape>(), kFloat64).to(fixture_dtype(entry.at("dtype")));
}

/// Same dtype, shape and values (NaN matching NaN, infinities exactly, and the sign of zeros when asked).
inline void check_same(const Tensor& actual, const Tensor& expected, bool signed_zeros, double rtol) {
    CHECK(dtype_name(actual.dtype()) == dtype_name(expected.dtype()));
    REQUIRE_MESSAGE(actual.shape() == expected.shape(),
                    "shape " << shape_to_list(actual.shape()) << " vs expected " << shape_to_list(expected.shape()));
    const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        if (std::isnan(e[i]) || std::isinf(e[i])) {
            CHECK_MESSAGE((std::isnan(e[i]) ? std::isnan(a[i]) : a[i] == e[i]),
                          "got " << a[i] << ", expected " << e[i]);
            continue;
        }
        CHECK_MESSAGE(std::abs(a[i] - e[i]) <= 1e-12 + rtol * std::abs(e[i]), "got " << a[i] << ", expected " << e[i]);
        if (signed_zeros && e[i] == 0) CHECK(std::signbit(a[i]) == std::signbit(e[i]));
    }
}

/// Checks shape equality and elementwise closeness, reporting the first mismatch.
inline void check_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-5, double atol = 1e-7) {
    REQUIRE_MESSAGE(actual.shape() == expected.shape(),
                    "shape " << shape_to_list(actual.shape()) << " vs expected " << shape_to_list(expected.shape()));
    const std::vector<double> a = actual.to_vector<double>();
    const std::vector<double> e = expected.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const bool ok = (std::isnan(a[i]) && std::isnan(e[i])) || a[i] == e[i] ||  // equal infinities too
                        std::abs(a[i] - e[i]) <= atol + rtol * std::abs(e[i]);
        if (!ok) {
            FAIL_CHECK("element " << i << ": got " << a[i] << ", expected " << e[i]);
            return;
        }
    }
}

/// Whether the CPU is AMD's (the bfloat16 kernel policy differs by vendor: lazynn/backend.hpp).
inline bool amd_cpu() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
#else
    return false;
#endif
}

/// Asserts that `expr` throws `Exception` with a message containing `fragment`.
#define LAZYNN_CHECK_THROWS_WITH_SUBSTR(expr, Exception, fragment)                           \
    do {                                                                                     \
        bool lazynn_thrown_ = false;                                                         \
        try {                                                                                \
            (void)(expr);                                                                    \
        } catch (const Exception& lazynn_e_) {                                               \
            lazynn_thrown_ = true;                                                           \
            CHECK_MESSAGE(std::string(lazynn_e_.what()).find(fragment) != std::string::npos, \
                          "message was: " << lazynn_e_.what());                              \
        }                                                                                    \
        CHECK_MESSAGE(lazynn_thrown_, "expected " #Exception " from " #expr);                \
    } while (0)

}  // namespace lazynn::testing
