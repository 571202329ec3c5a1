// Which oneDNN convolution layouts to ask for (docs/performance.md, "Convolution layouts"): for the
// convolutions of the Fashion-MNIST sample and the CIFAR workload, one chunk of lazynn's batch split
// on one thread, each candidate's primitive time plus the reorders between it and PyTorch's NCHW
// layout that lazynn runs around it, each from cold caches. Prints "shape candidate implementation conv_ms reorders_ms
// total_ms" lines.
//
//   OMP_NUM_THREADS=1 lazynn_conv_layouts [repeats=30]

#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using tag = memory::format_tag;

dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

int repeats = 30;

/// Evicts the caches, as a training step's other layers do between a convolution and the reorder
/// of its output: the reorder then reads and writes memory, as it does in a step.
void evict_caches() {
    static std::vector<float> sweep(std::size_t{16} << 20);  // 64 MiB
    for (float& v : sweep) v += 1.0f;
}

/// Median milliseconds of f over `repeats` calls from cold caches, after 5 warm-up calls.
template <class F>
double median_ms(F&& f) {
    for (int i = 0; i < 5; ++i) f();
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        evict_caches();
        const auto start = std::chrono::steady_clock::now();
        f();
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
    return times[times.size() / 2];
}

/// Fills a float32 memory with values in [-1, 1): freshly allocated memory may hold denormals,
/// which would time the CPU's slow path instead of the kernel.
void fill(memory& m) {
    auto* data = static_cast<float*>(m.get_data_handle());
    const std::size_t count = m.get_desc().get_size() / sizeof(float);
    for (std::size_t i = 0; i < count; ++i) data[i] = static_cast<float>(i % 97) / 48.5f - 1.0f;
}

/// The time of one reorder from `from` to `to`, or 0 when the layouts are the same.
double reorder_ms(const memory::desc& from, const memory::desc& to) {
    if (from == to) return 0;
    dnnl::stream stream(engine());
    memory a(from, engine()), b(to, engine());
    fill(a);
    dnnl::reorder reorder(a, b);
    return median_ms([&] {
        reorder.execute(stream, a, b);
        stream.wait();
    });
}

struct Problem {
    const char* name;
    memory::dims src, weights, dst;
    memory::dim pad;
};

struct Candidate {
    const char* name;
    dnnl::prop_kind kind;
    bool plain_source;  // the source in NCHW rather than left to oneDNN
};

void measure(const Problem& p, const Candidate& c) {
    const auto f32 = memory::data_type::f32;
    const memory::desc user_src(p.src, f32, tag::nchw), user_dst(p.dst, f32, tag::nchw);
    const memory::desc src = c.plain_source ? user_src : memory::desc(p.src, f32, tag::any);
    const memory::desc weights(p.weights, f32, tag::any), dst(p.dst, f32, tag::any), bias({p.weights[0]}, f32, tag::x);
    const dnnl::convolution_forward::desc desc(c.kind, dnnl::algorithm::convolution_direct, src, weights, bias, dst,
                                               {1, 1}, {p.pad, p.pad}, {p.pad, p.pad});
    const dnnl::convolution_forward::primitive_desc pd(desc, engine());
    memory s(pd.src_desc(), engine()), w(pd.weights_desc(), engine()), d(pd.dst_desc(), engine()), b(bias, engine());
    for (memory* m : {&s, &w, &b}) fill(*m);
    dnnl::convolution_forward conv(pd);
    dnnl::stream stream(engine());
    const double conv_ms = median_ms([&] {
        conv.execute(stream, {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, d}});
        stream.wait();
    });
    const double reorders = reorder_ms(user_src, pd.src_desc()) + reorder_ms(pd.dst_desc(), user_dst);
    std::printf("%-34s %-26s %-24s %8.3f %8.3f %8.3f\n", p.name, c.name, pd.impl_info_str(), conv_ms, reorders,
                conv_ms + reorders);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) repeats = std::max(1, std::atoi(argv[1]));
    // One chunk each: the sample's batch of 64 and the CIFAR workload's 32, split over 2 threads.
    const Problem problems[] = {
        {"fashion conv1 32x1x28x28 -> 32", {32, 1, 28, 28}, {32, 1, 3, 3}, {32, 32, 26, 26}, 0},
        {"fashion conv2 32x32x13x13 -> 64", {32, 32, 13, 13}, {64, 32, 3, 3}, {32, 64, 11, 11}, 0},
        {"cifar conv1 16x3x32x32 -> 32", {16, 3, 32, 32}, {32, 3, 3, 3}, {16, 32, 32, 32}, 1},
        {"cifar conv2 16x32x16x16 -> 64", {16, 32, 16, 16}, {64, 32, 3, 3}, {16, 64, 16, 16}, 1},
        {"cifar conv3 16x64x8x8 -> 128", {16, 64, 8, 8}, {128, 64, 3, 3}, {16, 128, 8, 8}, 1},
        {"3 channels, no padding 16x3x32x32", {16, 3, 32, 32}, {32, 3, 3, 3}, {16, 32, 30, 30}, 0},
    };
    const Candidate candidates[] = {
        {"inference, any layout", dnnl::prop_kind::forward_inference, false},
        {"training, any layout", dnnl::prop_kind::forward_training, false},
        {"training, NCHW source", dnnl::prop_kind::forward_training, true},
    };
    std::printf("%-34s %-26s %-24s %8s %8s %8s\n", "problem", "candidate", "implementation", "conv", "reorders",
                "total");
    for (const Problem& p : problems) {
        for (const Candidate& c : candidates) measure(p, c);
    }
}
