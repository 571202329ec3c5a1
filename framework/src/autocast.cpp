// Autocast's thread-local state (lazynn/autocast.hpp).
#include <lazynn/autocast.hpp>

#include "ops/onednn.hpp"

#include <lazynn/backend.hpp>
#include <lazynn/error.hpp>
#include <lazynn/log.hpp>

#include <mutex>

namespace lazynn {
namespace {

struct AutocastState {
    bool enabled = false;
    Dtype dtype = kBFloat16;
};

AutocastState& state() {
    thread_local AutocastState s;
    return s;
}

}  // namespace

bool is_autocast_enabled() { return state().enabled; }
Dtype autocast_dtype() { return state().dtype; }

AutocastGuard::AutocastGuard(Dtype dtype) : previous_enabled_(state().enabled), previous_dtype_(state().dtype) {
    if (dtype != kBFloat16) {
        throw ValueError("AutocastGuard: CPU autocast runs in bfloat16 only (PyTorch's rule), got " +
                         dtype_name(dtype) + "; pass kBFloat16, or convert the model with Module::to(" +
                         dtype_name(dtype) + ")");
    }
    state() = {true, dtype};
    static std::once_flag warned;
    std::call_once(warned, [] {
        const BackendInfo info = backend_info();
        // AMX's tiles, and AMD's AVX512-BF16 (a CNN training step 0.8x and a wide MLP's inference
        // 0.5x their float32 time on a Zen 5): autocast is faster, nothing to say.
        if (onednn::native_bfloat16() && onednn::bfloat16_units_outrun_float32()) return;
        if (onednn::native_bfloat16()) {  // forced where they are slower (set_bfloat16_kernels(native))
            logging::warn("autocast: ", info.bfloat16,
                          "; on this CPU they are slower than its float32 kernels (set_bfloat16_kernels(automatic) "
                          "picks those), so autocast gives PyTorch's bfloat16 numerics, not speed "
                          "(docs/mixed-precision.md)");
            return;
        }
        logging::warn("autocast: ", info.bfloat16,
                      "; without AMX bfloat16 is not faster than float32, so autocast gives PyTorch's bfloat16 "
                      "numerics, not speed, on this CPU (docs/mixed-precision.md)");
    });
}

AutocastGuard::AutocastGuard(bool enabled) : previous_enabled_(state().enabled), previous_dtype_(state().dtype) {
    state().enabled = enabled;
}

AutocastGuard::~AutocastGuard() { state() = {previous_enabled_, previous_dtype_}; }

}  // namespace lazynn
