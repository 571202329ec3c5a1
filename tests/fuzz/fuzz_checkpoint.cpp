// Fuzz target: lazynn::load_checkpoint (model, optimizer, scheduler, generator), then one training
// step: a loaded optimizer state must fit its parameters, and a failed load must leave everything
// usable. Two configurations: a lazy model with Adam (amsgrad) and cosine annealing, an eager one
// with SGD (Nesterov momentum) and LinearLR. The same input also goes to Checkpoint::load with
// named entries (two models, their optimizers, a scheduler, a generator), with the same demands.
#include "fuzz_models.hpp"
#include "fuzz_support.hpp"

#include <lazynn/checkpoint.hpp>
#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>
#include <lazynn/serialize.hpp>

namespace {

void train_step(lazynn::Module& model, lazynn::optim::Optimizer& optimizer, lazynn::optim::LRScheduler& scheduler,
                const lazynn::Tensor& input) {
    optimizer.zero_grad();
    model(input).pow(2.0).mean().backward();
    optimizer.step();
    scheduler.step();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lazynn;
    const std::string& path = fuzz::write_input(data, size, ".ckpt");
    fuzz::expect_only_lazynn_errors([&] {
        nn::Sequential model = fuzz::sequence_model();
        optim::Adam adam(model.parameters(), optim::AdamOptions(1e-2).amsgrad(true));
        optim::CosineAnnealingLR cosine(adam, 10);
        bool loaded = true;
        try {
            load_checkpoint(path, model, &adam, &cosine);
        } catch (const Error&) {
            loaded = false;
        }
        // Loaded or not, the objects must still train (a lazy model initialises on this forward).
        const Tensor w = model.state_dict().at("0.weight");
        const std::int64_t features = is_lazy(w) || w.dim() != 1 ? 4 : w.size(0);
        train_step(model, adam, cosine, ones({2, 3, features}));
        (void)loaded;
    });
    fuzz::expect_only_lazynn_errors([&] {
        nn::Sequential model{nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU(), nn::Linear(3, 2)};
        optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
        optim::LinearLR warmup(sgd, 0.5, 1.0, 3);
        try {
            load_checkpoint(path, model, &sgd, &warmup);
        } catch (const Error&) {
        }
        train_step(model, sgd, warmup, ones({3, 4}));
    });
    fuzz::expect_only_lazynn_errors([&] {
        nn::Sequential lazy = fuzz::sequence_model();
        nn::Sequential eager{nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU(), nn::Linear(3, 2)};
        optim::Adam adam(lazy.parameters());
        optim::SGD sgd(eager.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        optim::StepLR step(sgd, 2);
        Generator noise(7);
        Checkpoint checkpoint;
        checkpoint.add("lazy", lazy).add("adam", adam).add("eager", eager).add("sgd", sgd).add("step", step);
        checkpoint.add("noise", noise);
        try {
            checkpoint.load(path);
        } catch (const Error&) {
        }
        (void)noise.normal();
        const Tensor w = lazy.state_dict().at("0.weight");
        const std::int64_t features = is_lazy(w) || w.dim() != 1 ? 4 : w.size(0);
        train_step(lazy, adam, step, ones({2, 3, features}));
        train_step(eager, sgd, step, ones({3, 4}));
    });
    return 0;
}
