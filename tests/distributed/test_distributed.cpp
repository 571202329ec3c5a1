// Runs as every rank of `mpirun -np 2`: collectives' values and errors, DDP against one process
// training on the whole batch, lazy models under DDP, no_sync and buffer broadcasting.
#include <doctest/doctest.h>

#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include <cmath>
#include <limits>

using namespace lazynn;
namespace dist = lazynn::distributed;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    return (a.to(kFloat64) - b.to(kFloat64)).abs().max().item<double>();
}

/// Rank 0's copy of `t`, as seen by every rank.
Tensor rank0_copy(const Tensor& t) { return dist::all_gather(t.detach().contiguous())[0]; }

struct Mlp : Cloneable<Mlp> {
    nn::Linear fc1{this, "fc1", 5, 8};
    nn::Tanh act{this, "act"};
    nn::Linear fc2{this, "fc2", 8, 3};
    Tensor forward(const Tensor& x) override { return fc2(act(fc1(x))); }
};

struct LazyNet : Cloneable<LazyNet> {
    nn::LazyLinear fc1{this, "fc1", 6};
    nn::LazyBatchNorm1d bn{this, "bn"};
    nn::ReLU act{this, "act"};
    nn::LazyLinear fc2{this, "fc2", 2};
    Tensor forward(const Tensor& x) override { return fc2(act(bn(fc1(x)))); }
};

/// Two inputs, two outputs (a TypedModule), lazy: item 3 of issue 22 under DDP.
struct TwoHeads {
    Tensor value, logits;
};
struct TwoInputNet : Cloneable<TwoInputNet, TypedModule<TwoHeads(const Tensor&, const Tensor&)>> {
    nn::LazyLinear a{this, "a", 6};
    nn::LazyLinear b{this, "b", 6};
    nn::Linear value_head{this, "value_head", 6, 1};
    nn::Linear logits_head{this, "logits_head", 6, 3};
    /// Shapes: x [N, A], z [N, B] -> value [N, 1], logits [N, 3]
    TwoHeads forward(const Tensor& x, const Tensor& z) override {
        const Tensor h = (a(x) + b(z)).tanh();
        return {value_head(h), logits_head(h)};
    }
};

constexpr std::int64_t kPerRank = 4;

/// The global batch every rank can build; rank r trains on rows [r*kPerRank, (r+1)*kPerRank).
std::pair<Tensor, Tensor> global_batch(int step) {
    const int world = dist::world_size();
    manual_seed(100 + static_cast<std::uint64_t>(step));  // the same batch on every rank
    const Tensor x = randn({world * kPerRank, 5}, TensorOptions().dtype(kFloat64));
    const Tensor y = randn({world * kPerRank, 3}, TensorOptions().dtype(kFloat64));
    return {x, y};
}

struct Topology {
    int world = dist::world_size();
    double r = dist::rank();
    double rank_sum = world * (world - 1) / 2.0;  // 0 + 1 + ... + (W-1)
};

}  // namespace

TEST_SUITE("process group") {
    TEST_CASE("rank, world size and barrier") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        CHECK(dist::is_initialized());
        CHECK(dist::world_size() >= 1);
        CHECK(dist::rank() >= 0);
        CHECK(dist::rank() < dist::world_size());
        CHECK(dist::local_rank() == dist::rank());  // one machine
        CHECK_FALSE(dist::processor_name().empty());
        dist::barrier();
    }
}

TEST_SUITE("collectives") {
    TEST_CASE("all_reduce sums, averages and takes extremes, per dtype") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        for (Dtype dtype : {kFloat32, kFloat64}) {
            Tensor t = (arange(6).to(dtype) + r).reshape({2, 3});
            dist::all_reduce(t);
            CHECK(max_abs_diff(t, (arange(6) * world + rank_sum).reshape({2, 3})) == 0);
            Tensor m = full({3}, r, TensorOptions().dtype(dtype));
            dist::all_reduce(m, dist::ReduceOp::Mean);
            CHECK(max_abs_diff(m, full({3}, rank_sum / world)) < 1e-6);
        }
        Tensor mx = tensor(std::vector<double>{r, -r}, {2}, kInt64);
        dist::all_reduce(mx, dist::ReduceOp::Max);
        CHECK(mx.to_vector<std::int64_t>() == std::vector<std::int64_t>{world - 1, 0});
        Tensor mn = tensor(std::vector<double>{r, -r}, {2}, kFloat64);
        dist::all_reduce(mn, dist::ReduceOp::Min);
        CHECK(mn.to_vector<double>() == std::vector<double>{0, -(world - 1.0)});
        Tensor prod = full({2}, r + 2, TensorOptions().dtype(kFloat64));
        dist::all_reduce(prod, dist::ReduceOp::Product);
        double expected = 1;
        for (int k = 0; k < world; ++k) expected *= k + 2;
        CHECK(prod.to_vector<double>() == std::vector<double>{expected, expected});
    }

    TEST_CASE("all_reduce_async completes on wait") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        Tensor t = full({1000}, r + 1);
        dist::Work work = dist::all_reduce_async(t, dist::ReduceOp::Sum);
        work.wait();
        CHECK(work.is_completed());
        CHECK(t.min().item<double>() == rank_sum + world);
        CHECK(t.max().item<double>() == rank_sum + world);
    }

    TEST_CASE("broadcast copies the root's tensor everywhere") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        const int root = world - 1;
        Tensor t = arange(5).to(kFloat64) * (r + 1);
        dist::broadcast(t, root);
        CHECK(max_abs_diff(t, arange(5) * world) == 0);
        CHECK_THROWS_WITH_AS(dist::broadcast(t, world), doctest::Contains("is not a rank"), ValueError);
    }

    TEST_CASE("all_gather returns every rank's tensor in rank order") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        const Tensor mine = tensor(std::vector<double>{r, r + 0.5}, {1, 2}, kFloat32);
        const std::vector<Tensor> all = dist::all_gather(mine.transpose(0, 1));  // non-contiguous input is fine
        REQUIRE(all.size() == static_cast<std::size_t>(world));
        for (int k = 0; k < world; ++k) {
            CHECK(all[static_cast<std::size_t>(k)].shape() == Shape{2, 1});
            CHECK(all[static_cast<std::size_t>(k)].to_vector<double>() == std::vector<double>{double(k), k + 0.5});
        }
    }

    TEST_CASE("reduce_scatter leaves each rank its slice of the sum") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        const Tensor input = (arange(world * 2 * 3).to(kFloat64).reshape({world * 2, 3}) + r);
        const Tensor out = dist::reduce_scatter(input);
        CHECK(out.shape() == Shape{2, 3});
        const Tensor expected =
            arange(world * 2 * 3).to(kFloat64).reshape({world * 2, 3}).narrow(0, 2 * dist::rank(), 2) * world +
            rank_sum;
        CHECK(max_abs_diff(out, expected) == 0);
        const Tensor mean = dist::reduce_scatter(input, dist::ReduceOp::Mean);
        CHECK(max_abs_diff(mean, expected / world) < 1e-12);
        CHECK_THROWS_WITH_AS(dist::reduce_scatter(ones({world * 2 + 1})),
                             doctest::Contains("must be a multiple of the world size"), ShapeError);
    }

    TEST_CASE("16-bit tensors: moved bit for bit, reduced on a float32 copy and rounded once") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        for (Dtype dtype : {kBFloat16, kFloat16}) {
            CAPTURE(dtype_name(dtype));
            Tensor t = (arange(6) + r).to(dtype).reshape({2, 3});  // small integers: exact in 16 bits
            dist::all_reduce(t);
            CHECK(t.dtype() == dtype);
            CHECK(max_abs_diff(t, (arange(6) * world + rank_sum).reshape({2, 3})) == 0);
            Tensor m = full({3}, r, TensorOptions().dtype(dtype));
            dist::Work work = dist::all_reduce_async(m, dist::ReduceOp::Mean);
            work.wait();
            CHECK(max_abs_diff(m, full({3}, rank_sum / world).to(dtype)) == 0);
            Tensor mx = tensor(std::vector<double>{r, -r}, {2}, kFloat64).to(dtype);
            dist::all_reduce(mx, dist::ReduceOp::Max);
            CHECK(mx.to_vector<double>() == std::vector<double>{world - 1.0, 0.0});
            // A 16-bit sum of (1 + one 16-bit step) from every rank: MPI adding the raw 16-bit words
            // as integers would give a different number.
            const double one_up = dtype == kBFloat16 ? 1.0 + 1.0 / 128 : 1.0 + 1.0 / 1024;
            Tensor s = full({4}, one_up, TensorOptions().dtype(dtype));
            dist::all_reduce(s);
            CHECK(max_abs_diff(s, full({4}, world * one_up).to(dtype)) == 0);

            // Moved bit for bit: rank 0's random values everywhere, NaN and infinities included.
            manual_seed(40 + static_cast<std::uint64_t>(dist::rank()));
            Tensor b =
                cat({randn({5}), tensor({std::nan(""), std::numeric_limits<double>::infinity(), -0.0})}).to(dtype);
            const std::vector<Tensor> gathered = dist::all_gather(b);
            REQUIRE(gathered.size() == static_cast<std::size_t>(world));
            CHECK(gathered[static_cast<std::size_t>(dist::rank())].dtype() == dtype);
            CHECK(equal(gathered[static_cast<std::size_t>(dist::rank())].narrow(0, 0, 5), b.narrow(0, 0, 5)));
            dist::broadcast(b, 0);
            const std::vector<double> values = b.to_vector<double>(), root = gathered[0].to_vector<double>();
            for (std::size_t i = 0; i < 5; ++i) CHECK(values[i] == root[i]);
            CHECK(std::isnan(values[5]));
            CHECK(values[6] == std::numeric_limits<double>::infinity());
            CHECK(std::signbit(values[7]));

            const Tensor input = (arange(world * 2 * 3).reshape({world * 2, 3}) + r).to(dtype);
            const Tensor out = dist::reduce_scatter(input);
            CHECK(out.dtype() == dtype);
            const Tensor expected =
                arange(world * 2 * 3).reshape({world * 2, 3}).narrow(0, 2 * dist::rank(), 2) * world + rank_sum;
            CHECK(max_abs_diff(out, expected) == 0);
        }
    }

    TEST_CASE("ranks that pass different tensors all get the same clear error") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        Tensor t = ones({3 + dist::rank()});
        if (world > 1) {
            CHECK_THROWS_WITH_AS(dist::all_reduce(t), doctest::Contains("ranks passed different tensors"),
                                 dist::DistributedError);
            Tensor shaped = ones(dist::rank() == 0 ? Shape{2, 3} : Shape{3, 2});
            CHECK_THROWS_WITH_AS(dist::broadcast(shaped),
                                 doctest::Contains("every rank must pass the same shape and dtype"),
                                 dist::DistributedError);
        }
        if (world == 2) {  // the message names what each rank passed
            CHECK_THROWS_WITH_AS(dist::all_reduce(t), doctest::Contains("(rank 0: [3] float32; rank 1: [4] float32)"),
                                 dist::DistributedError);
        }
        CHECK_THROWS_WITH_AS(dist::all_reduce(ones({2, 3}).transpose(0, 1)), doctest::Contains("must be contiguous"),
                             ValueError);
        CHECK_THROWS_WITH_AS(dist::all_reduce(ones({2}, TensorOptions().dtype(kInt64)), dist::ReduceOp::Mean),
                             doctest::Contains("needs a floating dtype"), DtypeError);
    }
}

TEST_SUITE("collectives") {
    TEST_CASE("ranks that call different collectives all get an error naming each rank's call") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        if (world == 1) return;
        Tensor t = ones({2});
        auto call = [&] {
            if (dist::rank() == 0) {
                dist::all_reduce(t);
            } else {
                dist::broadcast(t);
            }
        };
        const std::string expected = world == 2
                                         ? "ranks called different collectives (rank 0: all_reduce; rank 1: broadcast)"
                                         : "ranks called different collectives (rank 0: all_reduce; ranks 1, 2";
        CHECK_THROWS_WITH_AS(call(), doctest::Contains(expected.c_str()), dist::DistributedError);
        Tensor root = ones({2});
        CHECK_THROWS_WITH_AS(dist::broadcast(root, dist::rank() == 0 ? 0 : 1),
                             doctest::Contains("ranks passed different roots (rank 0: root 0; rank"),
                             dist::DistributedError);
        // The group is still usable: the mismatch was caught before any data moved.
        CHECK_FALSE(dist::is_broken());
        dist::all_reduce(t);
        CHECK(t.to_vector<double>() == std::vector<double>{double(world), double(world)});
    }

    TEST_CASE("the timeout is a positive process-group option") {
        const auto before = dist::timeout();
        CHECK(before.count() > 0);
        CHECK_THROWS_WITH_AS(dist::set_timeout(std::chrono::milliseconds(0)), doctest::Contains("must be positive"),
                             ValueError);
        dist::set_timeout(std::chrono::seconds(5));
        CHECK(dist::timeout() == std::chrono::milliseconds(5000));
        CHECK(dist::ProcessGroupOptions().timeout_ == std::chrono::minutes(30));  // PyTorch's default
        dist::set_timeout(before);
    }
}

TEST_SUITE("DistributedDataParallel") {
    void check_matches_one_process(double bucket_cap_mb) {
        manual_seed(7);
        Mlp reference;
        reference.to(kFloat64);
        Mlp model(reference);  // same weights
        optim::SGD ref_opt(reference.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        dist::DistributedDataParallel ddp(model, dist::DistributedDataParallelOptions().bucket_cap_mb(bucket_cap_mb));
        for (int step = 0; step < 5; ++step) {
            const auto [x, y] = global_batch(step);
            ref_opt.zero_grad();
            nn::functional::mse_loss(reference(x), y).backward();
            ref_opt.step();

            opt.zero_grad();
            const Tensor local_x = x.narrow(0, dist::rank() * kPerRank, kPerRank);
            const Tensor local_y = y.narrow(0, dist::rank() * kPerRank, kPerRank);
            nn::functional::mse_loss(ddp(local_x), local_y).backward();
            opt.step();
        }
        const auto ref_params = reference.named_parameters();
        const auto params = model.named_parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            INFO(params[i].first);
            CHECK(max_abs_diff(params[i].second, ref_params[i].second) < 1e-12);
        }
    }

    TEST_CASE("training on shards equals one process training on the whole batch") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        SUBCASE("one bucket") { check_matches_one_process(25.0); }
        SUBCASE("a bucket per parameter") { check_matches_one_process(1e-6); }
    }

    TEST_CASE("under autocast, training on shards matches one process training on the whole batch") {
        // float32 master weights, bfloat16 GEMMs: each rank's weight gradient is rounded to bfloat16
        // before the average, the whole batch's once, so they agree to bfloat16 rounding (not bits).
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(11);
        Mlp reference;
        Mlp model(reference);  // same weights
        optim::SGD ref_opt(reference.parameters(), optim::SGDOptions(0.1));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));
        dist::DistributedDataParallel ddp(model);
        for (int step = 0; step < 5; ++step) {
            const auto [x64, y64] = global_batch(step);
            const Tensor x = x64.to(kFloat32), y = y64.to(kFloat32);
            ref_opt.zero_grad();
            Tensor ref_loss;
            {
                AutocastGuard autocast;
                ref_loss = nn::functional::mse_loss(reference(x), y);
            }
            ref_loss.backward();
            ref_opt.step();

            opt.zero_grad();
            Tensor loss;
            {
                AutocastGuard autocast;
                const Tensor out = ddp(x.narrow(0, dist::rank() * kPerRank, kPerRank));
                CHECK(out.dtype() == kBFloat16);
                loss = nn::functional::mse_loss(out, y.narrow(0, dist::rank() * kPerRank, kPerRank));
            }
            CHECK(loss.dtype() == kFloat32);
            loss.backward();
            for (const auto& p : model.parameters()) CHECK(p.grad().dtype() == kFloat32);
            opt.step();
        }
        const auto ref_params = reference.named_parameters();
        const auto params = model.named_parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            INFO(params[i].first);
            CHECK(params[i].second.dtype() == kFloat32);
            CHECK(max_abs_diff(params[i].second, ref_params[i].second) < 1e-2);
            CHECK(max_abs_diff(params[i].second, rank0_copy(params[i].second)) == 0.0);  // ranks identical
        }
    }

    TEST_CASE("a bfloat16 model trains on shards like one process on the whole batch, ranks identical") {
        // Parameters, gradients and the optimizer's state in bfloat16 (Module::to); the buckets are
        // bfloat16 and averaged on a float32 copy. Each rank's gradient is rounded to bfloat16
        // before the average, the whole batch's once, so they agree to bfloat16 rounding.
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(12);
        Mlp reference;
        reference.to(kBFloat16);
        Mlp model(reference);
        optim::SGD ref_opt(reference.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        dist::DistributedDataParallel ddp(model);
        for (int step = 0; step < 3; ++step) {
            const auto [x64, y64] = global_batch(step);
            const Tensor x = x64.to(kBFloat16), y = y64.to(kFloat32);
            ref_opt.zero_grad();
            nn::functional::mse_loss(reference(x).to(kFloat32), y).backward();
            ref_opt.step();
            opt.zero_grad();
            const Tensor out = ddp(x.narrow(0, dist::rank() * kPerRank, kPerRank));
            CHECK(out.dtype() == kBFloat16);
            nn::functional::mse_loss(out.to(kFloat32), y.narrow(0, dist::rank() * kPerRank, kPerRank)).backward();
            for (const auto& p : model.parameters()) CHECK(p.grad().dtype() == kBFloat16);
            opt.step();
        }
        const auto ref_params = reference.named_parameters();
        const auto params = model.named_parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            INFO(params[i].first);
            CHECK(params[i].second.dtype() == kBFloat16);
            CHECK(max_abs_diff(params[i].second, ref_params[i].second) < 1e-2);
            CHECK(max_abs_diff(params[i].second, rank0_copy(params[i].second)) == 0.0);  // ranks identical
        }
    }

    TEST_CASE("buckets cover every parameter once") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(1);
        Mlp model;
        dist::DistributedDataParallel few(model);
        few(randn({2, 5}));
        CHECK(few.num_buckets() == 1);
        CHECK(few.gradient_bytes() == static_cast<std::size_t>(model.num_parameters().total) * sizeof(float));
        Mlp other;
        dist::DistributedDataParallel many(other, dist::DistributedDataParallelOptions().bucket_cap_mb(1e-6));
        many(randn({2, 5}));
        CHECK(many.num_buckets() == 4);
    }

    TEST_CASE("a lazy model starts identical on every rank, even from different seeds") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(1000 + static_cast<std::uint64_t>(dist::rank()));  // ranks would initialise differently
        LazyNet model;
        optim::Adam opt(model.parameters(), optim::AdamOptions(1e-2));  // built before materialisation
        dist::DistributedDataParallel ddp(model);
        const Tensor x = randn({kPerRank, 7});
        const Tensor y = randint(0, 2, {kPerRank});
        CHECK(model.has_uninitialized_params() == false);  // the container itself holds none
        const Tensor loss = nn::functional::cross_entropy(ddp(x), y);
        CHECK(model.fc1.weight.shape() == Shape{6, 7});
        CHECK(model.name() == "LazyNet");
        for (const auto& [name_entry, p] : model.named_parameters()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            INFO(name);
            CHECK(max_abs_diff(p, rank0_copy(p)) == 0);
        }
        // The materialising pass ran in eval mode: the running statistics saw one batch only.
        CHECK(model.bn.num_batches_tracked.item<std::int64_t>() == 1);
        loss.backward();
        opt.step();
        for (const auto& [name_entry, p] : model.named_parameters()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            INFO(name);
            CHECK(max_abs_diff(p, rank0_copy(p)) == 0);  // same averaged gradient, same step
        }
    }

    TEST_CASE("a lazy model of two inputs and two outputs trains on shards like one process on the batch") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(11);
        TwoInputNet reference;
        reference.to(kFloat64);
        TwoInputNet model(reference);  // copies initialise from their own seeds: rank 0's weights win below
        model.to(kFloat64);
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));  // built before materialisation
        dist::DistributedDataParallel ddp(model);
        const auto loss_of = [](const TwoHeads& out, const Tensor& y) {
            return out.value.pow(2.0).mean() + nn::functional::mse_loss(out.logits, y);
        };
        for (int step = 0; step < 3; ++step) {
            manual_seed(200 + static_cast<std::uint64_t>(step));
            const Tensor x = randn({world * kPerRank, 5}, kFloat64);
            const Tensor z = randn({world * kPerRank, 2}, kFloat64);
            const Tensor y = randn({world * kPerRank, 3}, kFloat64);
            const Tensor shard_x = x.narrow(0, dist::rank() * kPerRank, kPerRank);
            const Tensor shard_z = z.narrow(0, dist::rank() * kPerRank, kPerRank);
            const Tensor shard_y = y.narrow(0, dist::rank() * kPerRank, kPerRank);
            opt.zero_grad();
            if (step == 0) {
                // The flat form materialises the lazy model from the real inputs, then every rank
                // starts from rank 0's weights; the reference takes them too.
                const std::vector<Tensor> out = ddp.call({shard_x, shard_z});
                REQUIRE(out.size() == 2);
                CHECK(model.a.weight.shape() == Shape{6, 5});
                CHECK(model.b.weight.shape() == Shape{6, 2});
                loss_of({out[0], out[1]}, shard_y).backward();
                reference.initialize(x, z);
                NoGradGuard no_grad;
                auto ref_params = reference.parameters();
                const auto params = model.parameters();
                for (std::size_t i = 0; i < params.size(); ++i) ref_params[i].copy_(rank0_copy(params[i]));
            } else {
                loss_of(ddp.forward([&] { return model(shard_x, shard_z); }), shard_y).backward();
            }
            // One process on the whole batch: the mean over ranks of the per-shard losses.
            Tensor ref_loss = zeros({}, kFloat64);
            for (int k = 0; k < world; ++k) {
                ref_loss = ref_loss +
                           loss_of(reference(x.narrow(0, k * kPerRank, kPerRank), z.narrow(0, k * kPerRank, kPerRank)),
                                   y.narrow(0, k * kPerRank, kPerRank));
            }
            reference.zero_grad();
            (ref_loss / static_cast<double>(world)).backward();
            auto ref_params = reference.named_parameters();
            const auto params = model.named_parameters();
            REQUIRE(params.size() == ref_params.size());
            for (std::size_t i = 0; i < params.size(); ++i) {
                INFO(params[i].first);
                CHECK(max_abs_diff(params[i].second.grad(), ref_params[i].second.grad()) < 1e-12);
            }
            opt.step();
            NoGradGuard no_grad;
            for (std::size_t i = 0; i < params.size(); ++i)
                ref_params[i].second.sub_(ref_params[i].second.grad() * 0.1);
        }
    }

    TEST_CASE("no_sync accumulates locally and the next backward reduces the sum") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(3);
        Mlp model;
        model.to(kFloat64);
        Mlp local(model);
        dist::DistributedDataParallel ddp(model);
        const auto [x1, y1] = global_batch(10);
        const auto [x2, y2] = global_batch(11);
        const std::int64_t offset = dist::rank() * kPerRank;
        {
            auto guard = ddp.no_sync();
            nn::functional::mse_loss(ddp(x1.narrow(0, offset, kPerRank)), y1.narrow(0, offset, kPerRank)).backward();
        }
        const Tensor after_local = model.fc1.weight.grad().clone();
        nn::functional::mse_loss(ddp(x2.narrow(0, offset, kPerRank)), y2.narrow(0, offset, kPerRank)).backward();

        nn::functional::mse_loss(local(x1.narrow(0, offset, kPerRank)), y1.narrow(0, offset, kPerRank)).backward();
        CHECK(max_abs_diff(after_local, local.fc1.weight.grad()) == 0);  // no communication yet
        nn::functional::mse_loss(local(x2.narrow(0, offset, kPerRank)), y2.narrow(0, offset, kPerRank)).backward();
        for (const auto& [name_entry, p] : local.named_parameters()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            Tensor expected = p.grad().clone();
            dist::all_reduce(expected, dist::ReduceOp::Mean);
            INFO(name);
            CHECK(max_abs_diff(model.get_parameter(name).grad(), expected) < 1e-14);
        }
    }

    TEST_CASE("buffers follow rank 0 at every forward with grad") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(5);
        nn::Sequential model(nn::Linear(3, 4), nn::BatchNorm1d(4));
        dist::DistributedDataParallel ddp(model);
        ddp(randn({kPerRank, 3}));
        Buffer& mean = model.get_buffer("1.running_mean");
        mean.detach().fill_(10.0 + dist::rank());  // ranks drift apart
        model.eval();                              // eval: this forward does not update the stats
        ddp(randn({kPerRank, 3}));
        CHECK(mean.min().item<double>() == 10.0);
        CHECK(mean.max().item<double>() == 10.0);
        mean.detach().fill_(20.0 + dist::rank());
        ddp.sync_buffers();
        CHECK(mean.max().item<double>() == 20.0);
    }

    TEST_CASE("a second backward without a forward through the wrapper is refused") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(11);
        Mlp model;
        dist::DistributedDataParallel ddp(model);
        const Tensor out = ddp(randn({2, 5})).sum();
        out.backward(Tensor(), true);
        CHECK_THROWS_WITH_AS(out.backward(), doctest::Contains("without a forward through the wrapper"), RuntimeError);
    }
}

TEST_SUITE("DistributedDataParallel") {
    TEST_CASE("wrapping an initialised model broadcasts rank 0's parameters and buffers at once") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(2000 + static_cast<std::uint64_t>(dist::rank()));  // every rank initialises differently
        nn::Sequential model(nn::Linear(3, 4), nn::BatchNorm1d(4));
        model.get_buffer("1.running_mean").detach().fill_(r);
        dist::DistributedDataParallel ddp(model);
        // Before any forward: evaluating or saving now gives the same model on every rank.
        for (const auto& [name_, p] : model.named_parameters()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            INFO(name);
            CHECK(max_abs_diff(p, rank0_copy(p)) == 0);
        }
        CHECK(model.get_buffer("1.running_mean").abs().max().item<double>() == 0);  // rank 0's zeros
        CHECK(ddp.num_buckets() == 1);
    }

    TEST_CASE("the materialising pass keeps each submodule's own train/eval flag") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(21);
        LazyNet model;
        model.train();
        model.bn.eval();  // a frozen BatchNorm
        dist::DistributedDataParallel ddp(model);
        ddp(randn({kPerRank, 7}));
        CHECK(model.is_training());
        CHECK(model.fc1.is_training());
        CHECK_FALSE(model.bn.is_training());
        // Still frozen: training forwards do not count batches or move the running statistics.
        ddp(randn({kPerRank, 7}));
        CHECK(model.bn.num_batches_tracked.item<std::int64_t>() == 0);
        CHECK(model.bn.running_mean.abs().max().item<double>() == 0);
    }

    TEST_CASE("mismatched models name the first differing parameter, both sides and the ranks") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        if (world == 1) return;
        manual_seed(4);
        SUBCASE("shapes") {
            nn::Sequential model(nn::Linear(5, 3), nn::Linear(3, dist::rank() == 0 ? 2 : 4));
            CHECK_THROWS_WITH_AS(dist::DistributedDataParallel{model},
                                 doctest::Contains("the ranks built different models: parameter '1.weight' is [2, 3] "
                                                   "float32 on rank 0 but [4, 3] float32 on rank 1"),
                                 dist::DistributedError);
        }
        SUBCASE("dtypes") {
            nn::Sequential model(nn::Linear(5, 3));
            if (dist::rank() != 0) model.to(kFloat64);
            CHECK_THROWS_WITH_AS(
                dist::DistributedDataParallel{model},
                doctest::Contains("parameter '0.weight' is [3, 5] float32 on rank 0 but [3, 5] float64 on rank 1"),
                dist::DistributedError);
        }
        SUBCASE("a missing layer") {
            nn::Sequential model(nn::Linear(5, 3));
            if (dist::rank() != 0) model.push_back(nn::Linear(3, 3));
            CHECK_THROWS_WITH_AS(
                dist::DistributedDataParallel{model},
                doctest::Contains("rank 1 has parameter '1.weight' ([3, 3] float32) where rank 0's model ends"),
                dist::DistributedError);
        }
        CHECK_FALSE(dist::is_broken());
    }

    /// fc1 always; fc2 only where `use_fc2`.
    Tensor partial_forward(Mlp & model, const Tensor& x, bool use_fc2) {
        Tensor hidden = model.act(model.fc1(x));
        return use_fc2 ? model.fc2(hidden).sum() + hidden.sum() : hidden.sum();
    }

    TEST_CASE("a parameter no rank used keeps its gradient untouched, so Adam leaves it alone") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(9);
        Mlp reference;
        reference.to(kFloat64);
        Mlp model(reference);
        optim::Adam ref_opt(reference.parameters(), optim::AdamOptions(1e-2));
        optim::Adam opt(model.parameters(), optim::AdamOptions(1e-2));
        dist::DistributedDataParallel ddp(model);
        Tensor fc2_before;
        for (int step = 0; step < 5; ++step) {
            const bool use_fc2 = step < 2;  // then fc2 is unused everywhere: its Adam moments must not move it
            const auto [x, y] = global_batch(step);
            ref_opt.zero_grad();
            Tensor loss = zeros({}, TensorOptions().dtype(kFloat64));
            for (int k = 0; k < world; ++k)
                loss = loss + partial_forward(reference, x.narrow(0, k * kPerRank, kPerRank), use_fc2);
            (loss / static_cast<double>(world)).backward();
            ref_opt.step();
            opt.zero_grad();
            const Tensor shard = x.narrow(0, dist::rank() * kPerRank, kPerRank);
            ddp.forward([&] { return partial_forward(model, shard, use_fc2); }).backward();
            CHECK(model.fc2.weight.grad().defined() == use_fc2);  // unused: still unset after zero_grad
            opt.step();
            if (step == 1) fc2_before = model.fc2.weight.detach().clone();
        }
        CHECK(max_abs_diff(model.fc2.weight, fc2_before) == 0);
        const auto ref_params = reference.named_parameters();
        const auto params = model.named_parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            INFO(params[i].first);
            CHECK(max_abs_diff(params[i].second, ref_params[i].second) < 1e-12);
        }
    }

    TEST_CASE("a parameter used on some ranks only gets the average over all ranks") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(10);
        Mlp model;
        model.to(kFloat64);
        Mlp local(model);
        dist::DistributedDataParallel ddp(model);
        const auto [x, y] = global_batch(3);
        const Tensor shard = x.narrow(0, dist::rank() * kPerRank, kPerRank);
        const bool use_fc2 = dist::rank() == 0;
        ddp.forward([&] { return partial_forward(model, shard, use_fc2); }).backward();
        partial_forward(local, shard, use_fc2).backward();
        Tensor expected = use_fc2 ? local.fc2.weight.grad().clone() : zeros_like(local.fc2.weight.detach());
        dist::all_reduce(expected, dist::ReduceOp::Mean);
        REQUIRE(model.fc2.weight.grad().defined());
        CHECK(max_abs_diff(model.fc2.weight.grad(), expected) < 1e-14);
        CHECK(model.fc2.weight.grad().abs().max().item<double>() > 0);
    }

    TEST_CASE("a gradient accumulated inside no_sync counts even if the synchronised backward skips it") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(12);
        Mlp model;
        model.to(kFloat64);
        Mlp local(model);
        dist::DistributedDataParallel ddp(model);
        const auto [x, y] = global_batch(4);
        const Tensor shard = x.narrow(0, dist::rank() * kPerRank, kPerRank);
        {
            auto guard = ddp.no_sync();
            ddp.forward([&] { return partial_forward(model, shard, true); }).backward();
        }
        ddp.forward([&] { return partial_forward(model, shard, false); }).backward();
        partial_forward(local, shard, true).backward();
        Tensor expected = local.fc2.weight.grad().clone();
        dist::all_reduce(expected, dist::ReduceOp::Mean);
        CHECK(max_abs_diff(model.fc2.weight.grad(), expected) < 1e-14);
    }

    /// Rank r holds 2 + r batches (different counts on every rank).
    int batches_of(int rank) { return 2 + rank; }

    void check_join_matches_one_process(bool divide_by_world) {
        const int world = dist::world_size();
        manual_seed(30);
        Mlp reference;
        reference.to(kFloat64);
        Mlp model(reference);
        optim::SGD ref_opt(reference.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        dist::DistributedDataParallel ddp(model);
        const int steps = batches_of(world - 1);
        // One process: in step s the ranks that still have a batch contribute their mean loss.
        for (int step = 0; step < steps; ++step) {
            const auto [x, y] = global_batch(step);
            int active = 0;
            for (int k = 0; k < world; ++k) active += step < batches_of(k) ? 1 : 0;
            ref_opt.zero_grad();
            Tensor loss = zeros({}, TensorOptions().dtype(kFloat64));
            for (int k = 0; k < world; ++k) {
                if (step >= batches_of(k)) continue;
                loss = loss + nn::functional::mse_loss(reference(x.narrow(0, k * kPerRank, kPerRank)),
                                                       y.narrow(0, k * kPerRank, kPerRank));
            }
            (loss / static_cast<double>(divide_by_world ? world : active)).backward();
            ref_opt.step();
        }
        {
            dist::Join join(ddp, dist::JoinOptions().divide_by_initial_world_size(divide_by_world));
            for (int step = 0; step < batches_of(dist::rank()); ++step) {
                const auto [x, y] = global_batch(step);
                opt.zero_grad();
                const std::int64_t offset = dist::rank() * kPerRank;
                nn::functional::mse_loss(ddp(x.narrow(0, offset, kPerRank)), y.narrow(0, offset, kPerRank)).backward();
                opt.step();
            }
        }
        for (const auto& [name_, p] : model.named_parameters()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            INFO(name);
            CHECK(max_abs_diff(p, rank0_copy(p)) == 0);  // identical everywhere
            CHECK(max_abs_diff(p, reference.get_parameter(name)) < 1e-12);
        }
        // The wrapper works normally after the join.
        const auto [x, y] = global_batch(99);
        nn::functional::mse_loss(ddp(x.narrow(0, dist::rank() * kPerRank, kPerRank)),
                                 y.narrow(0, dist::rank() * kPerRank, kPerRank))
            .backward();
        CHECK(max_abs_diff(model.fc1.weight.grad(), rank0_copy(model.fc1.weight.grad())) == 0);
    }

    TEST_CASE("Join: ranks with different batch counts train like one process and end identical") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        SUBCASE("divided by the world size (PyTorch's default)") { check_join_matches_one_process(true); }
        SUBCASE("divided by the ranks still training") { check_join_matches_one_process(false); }
    }

    TEST_CASE("Join keeps buffers from a rank still training") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        manual_seed(31);
        nn::Sequential model(nn::Linear(3, 4), nn::BatchNorm1d(4));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));
        dist::DistributedDataParallel ddp(model);
        {
            dist::Join join(ddp);
            for (int step = 0; step < batches_of(dist::rank()); ++step) {
                manual_seed(500 + static_cast<std::uint64_t>(step * world + dist::rank()));
                opt.zero_grad();
                ddp(randn({kPerRank, 3})).sum().backward();
                opt.step();
            }
        }
        const Buffer& count = model.get_buffer("1.num_batches_tracked");
        CHECK(count.item<std::int64_t>() == batches_of(world - 1));  // the last rank's count, everywhere
        for (const auto& [name_, b] : model.named_buffers()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            INFO(name);
            CHECK(max_abs_diff(b, rank0_copy(b)) == 0);
        }
    }

    TEST_CASE("Join with throw_on_early_termination stops every rank when one runs out") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        if (world == 1) return;
        manual_seed(32);
        Mlp model;
        dist::DistributedDataParallel ddp(model);
        auto train = [&] {
            dist::Join join(ddp, dist::JoinOptions().throw_on_early_termination(true));
            for (int step = 0; step < batches_of(dist::rank()); ++step) ddp(randn({2, 5})).sum().backward();
            join.finish();
        };
        CHECK_THROWS_WITH_AS(train(), doctest::Contains("Join: rank 0 ran out of inputs"), dist::DistributedError);
        CHECK_FALSE(dist::is_broken());
    }

    TEST_CASE("Join needs a materialised model") {
        [[maybe_unused]] const auto [world, r, rank_sum] = Topology();
        LazyNet model;
        dist::DistributedDataParallel ddp(model);
        CHECK_THROWS_WITH_AS(dist::Join{ddp}, doctest::Contains("is still lazy; run one forward"), ValueError);
    }
}
