// End to end: a lazy model trained with the DataLoader, a loss, an optimizer and a scheduler on a
// small generated problem reaches a low loss and high accuracy, and resuming from a checkpoint
// mid-run ends where the uninterrupted run ends.
#include "test_support.hpp"

#include <lazynn/lazynn.hpp>

#include <filesystem>
#include <unistd.h>

using namespace lazynn;

namespace {

/// Two interleaved spirals: a problem a linear model cannot solve.
std::shared_ptr<data::TensorDataset> spirals(std::int64_t n) {
    const Tensor t = rand({n, 1}) * 3.0 + 0.5;
    const Tensor label = randint(0, 2, {n});
    const Tensor phase = label.to(kFloat32).reshape({n, 1}) * 3.14159265;
    const Tensor x = cat({t * (t * 2.0 + phase).cos(), t * (t * 2.0 + phase).sin()}, 1) + randn({n, 2}) * 0.05;
    return std::make_shared<data::TensorDataset>(x, label);
}

struct Classifier : Cloneable<Classifier> {
    nn::Sequential body{this,       "body",           nn::LazyLinear(64), nn::Tanh(), nn::LazyLinear(64),
                        nn::Tanh(), nn::LazyLinear(2)};
    Tensor forward(const Tensor& x) override { return body(x); }
};

double train(Classifier& model, optim::Adam& opt, optim::StepLR& sched, data::DataLoader& loader, int first_epoch,
             int last_epoch) {
    double last = 0;
    for (int epoch = first_epoch; epoch <= last_epoch; ++epoch) {
        for (const data::Example& batch : loader) {
            opt.zero_grad();
            const Tensor loss = nn::functional::cross_entropy(model(batch.data), batch.target);
            loss.backward();
            opt.step();
            last = loss.item<double>();
        }
        sched.step();
    }
    return last;
}

double accuracy(Classifier& model, const data::TensorDataset& set) {
    NoGradGuard no_grad;
    return (model(set.data()).argmax(1) == set.targets()).to(kFloat64).mean().item<double>();
}

}  // namespace

TEST_CASE("a lazy MLP learns two spirals, and a resumed run ends exactly where the straight one does") {
    manual_seed(0);
    auto train_set = spirals(1024);
    auto test_set = spirals(512);
    const std::string path =
        (std::filesystem::temp_directory_path() / ("lazynn_e2e_" + std::to_string(::getpid()) + ".safetensors"))
            .string();

    manual_seed(1);
    Classifier straight;
    optim::Adam opt(straight.parameters(), optim::AdamOptions(0.01));
    optim::StepLR sched(opt, 20, 0.5);
    data::DataLoader loader(train_set, data::DataLoaderOptions(64).shuffle(true).seed(3));
    const double before = [&] {
        NoGradGuard no_grad;
        return nn::functional::cross_entropy(straight(train_set->data()), train_set->targets()).item<double>();
    }();
    train(straight, opt, sched, loader, 1, 20);
    save_checkpoint(path, straight, &opt, &sched, {20, {}});
    const double final_loss = train(straight, opt, sched, loader, 21, 40);
    CHECK(before > 0.6);
    CHECK(final_loss < 0.1);
    CHECK(accuracy(straight, *test_set) > 0.95);

    manual_seed(99);  // a different start: everything must come from the checkpoint
    Classifier resumed;
    optim::Adam opt2(resumed.parameters(), optim::AdamOptions(0.5));
    optim::StepLR sched2(opt2, 20, 0.5);
    data::DataLoader loader2(train_set, data::DataLoaderOptions(64).shuffle(true).seed(3));
    const TrainingState state = load_checkpoint(path, resumed, &opt2, &sched2);
    loader2.set_epoch(static_cast<std::uint64_t>(state.epoch));
    train(resumed, opt2, sched2, loader2, static_cast<int>(state.epoch) + 1, 40);
    for (const auto& [name_entry, p] : straight.named_parameters()) {
        const auto& name = name_entry;  // clang 14 cannot capture structured bindings
        CAPTURE(name);
        CHECK(equal(p, resumed.get_parameter(name)));
    }
    std::filesystem::remove(path);
}
