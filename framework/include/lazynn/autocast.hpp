#pragma once
// Automatic mixed precision on the CPU: PyTorch's torch.autocast("cpu", dtype=torch.bfloat16).
// Inside an AutocastGuard, GEMM-like ops (linear, matmul, convolutions, the recurrent and attention
// projections built on them) take float32 operands in bfloat16 and return bfloat16; losses and the
// other ops on PyTorch 1.13's CPU float32 list take 16-bit operands in float32; everything else
// follows its inputs. The casts are ordinary recorded conversions, so parameters stay float32
// (master weights) and their gradients arrive in float32. docs/mixed-precision.md lists the ops.

#include <lazynn/dtype.hpp>
#include <lazynn/tensor.hpp>

namespace lazynn {

/// Whether autocast is on in this thread.
bool is_autocast_enabled();
/// The dtype autocast lowers GEMM-like ops to in this thread (kBFloat16).
Dtype autocast_dtype();

/// Turns autocast on (or off) in this thread for its scope; nestable, restores the previous state.
/// Thread-local like NoGradGuard: another thread (a DataLoader worker) is not affected. Backward
/// passes run with autocast off, as their ops follow the dtypes the forward recorded.
///
/// Example:
///     {
///         lazynn::AutocastGuard autocast(lazynn::kBFloat16);
///         Tensor logits = model(x);                         // bfloat16 out of Linear
///         Tensor loss = nn::functional::cross_entropy(logits, y);  // float32
///         {
///             lazynn::AutocastGuard off(false);             // float32 again in here
///         }
///     }
///     loss.backward();                                      // float32 gradients on the parameters
class AutocastGuard {
public:
    /// On, lowering to `dtype`. PyTorch's CPU autocast takes bfloat16 only; another dtype throws
    /// ValueError (PyTorch would warn and silently run in float32).
    explicit AutocastGuard(Dtype dtype = kBFloat16);
    /// On (bfloat16, or the enclosing guard's dtype) or off.
    explicit AutocastGuard(bool enabled);
    ~AutocastGuard();
    AutocastGuard(const AutocastGuard&) = delete;
    AutocastGuard& operator=(const AutocastGuard&) = delete;

private:
    bool previous_enabled_;
    Dtype previous_dtype_;
};

namespace autocast {

/// The two casting policies an op can declare (docs/mixed-precision.md lists which op has which).
enum class Policy : std::uint8_t {
    LowerPrecision,  ///< float32 operands run in the autocast dtype (bfloat16)
    Float32,         ///< 16-bit floating operands run in float32
};

/// An op's entry under an autocast policy. While autocast is on, active() is true, autocast is off
/// for the region's lifetime (the op's own inner calls are not cast again, as PyTorch excludes its
/// autocast key inside an op), and region(t) casts one operand by the policy. Tensors the policy
/// does not name (float64, int64, bool, undefined) pass unchanged, as in PyTorch.
///   requires: declared at the op's entry, before any operand is used
///   ensures:  the op is called again on the cast operands, with autocast off
///
/// Example:
///     Tensor my_loss(const Tensor& input, const Tensor& target) {
///         if (autocast::Float32Region fp32; fp32.active()) return my_loss(fp32(input), fp32(target));
///         ...   // here autocast is off or the operands are already cast
///     }
template <Policy P>
class Region {
public:
    Region()
        : active_(is_autocast_enabled()), target_(P == Policy::Float32 ? kFloat32 : autocast_dtype()), off_(false) {}
    bool active() const { return active_; }
    Tensor operator()(const Tensor& t) const {
        if (!active_ || !t.defined() || t.is_uninitialized()) return t;
        const Dtype d = t.dtype();
        const bool cast = P == Policy::Float32 ? is_float16(d) : d == kFloat32;
        return cast ? t.to(target_) : t;
    }

private:
    bool active_;
    Dtype target_;
    AutocastGuard off_;
};

using LowerPrecisionRegion = Region<Policy::LowerPrecision>;
using Float32Region = Region<Policy::Float32>;

}  // namespace autocast
}  // namespace lazynn
