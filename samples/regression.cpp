// Fits a custom Module with its own Parameters to noisy data and prints the recovered
// coefficients: y = 0.5 - 2 x + 3 x^2 + noise, modelled as a quadratic. The data are generated
// from --seed, so the sample needs no files.
//
//   regression [--epochs 60] [--batch-size 64] [--lr 0.05] [--seed 0] [--out out/regression] [--resume]
//              [--threads 1] [--distributed]
#include "parallel.hpp"
#include "training_support.hpp"

#include <iomanip>
#include <iostream>

using namespace lazynn;

/// y = a + b x + c x^2, with a, b, c registered by being declared.
struct Quadratic : Cloneable<Quadratic> {
    Parameter a{this, "a", zeros({1})};
    Parameter b{this, "b", zeros({1})};
    Parameter c{this, "c", zeros({1})};

    /// Shapes: input [N, 1] -> output [N, 1]
    Tensor forward(const Tensor& x) override { return a + b * x + c * x * x; }
    std::string extra_repr() const override { return "y = a + b x + c x^2"; }
};

int main(int argc, char** argv) {
    samples::CommonOptions o;
    o.epochs = 60;
    o.lr = 0.05;
    o.out = "out/regression";
    const samples::SampleCommandLine command_line{"Fit a quadratic Module to noisy data (generated, no --data)",
                                                  samples::DataKind::None, ""};
    if (int code = samples::parse_options(argc, argv, command_line, o); code >= 0) return code;
    Quadratic model;
    std::unique_ptr<samples::Parallel> parallel;
    try {
        parallel = std::make_unique<samples::Parallel>(model, o.distributed);
        samples::use_threads(o.threads, o.precision, parallel->is_root());
        manual_seed(o.seed);  // every rank draws the same data
        auto make_data = [](std::int64_t n) {
            const Tensor x = rand({n, 1}) * 4.0 - 2.0;
            const Tensor y = 0.5 - 2.0 * x + 3.0 * x * x + randn({n, 1}) * 0.3;
            return std::make_shared<data::TensorDataset>(x, y);
        };
        auto train_set = make_data(2048);
        data::DataLoaderOptions train_options(o.batch_size);
        if (auto shard = parallel->sampler(train_set->size(), true, o.seed)) {
            train_options.sampler(shard);  // distributed: each rank a shard of every epoch
        } else {
            train_options.shuffle(true).seed(o.seed);
        }
        data::DataLoader train(train_set, train_options);
        auto test_set = make_data(512);
        data::DataLoader test(test_set, data::DataLoaderOptions(512));
        const double target_variance = test_set->targets().var(false).item<double>();

        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));
        optim::ReduceLROnPlateau plateau(optimizer, optim::ReduceLROnPlateauOptions().patience(5).factor(0.5));
        // A regression has no accuracy: the metric is R^2 on the test set.
        samples::TrainingRun run(o, argc, argv, samples::MetricKind{"test_r2", "test R^2", false}, parallel->is_root(),
                                 parallel->enabled());
        // The plateau is an LRScheduler: its counters go into the checkpoint with the optimizer.
        if (!run.resume(model, &optimizer, &plateau)) return 0;
        train.set_epoch(static_cast<std::uint64_t>(run.first_epoch() - 1));
        for (int epoch = run.first_epoch(); epoch <= o.epochs; ++epoch) {
            samples::EpochProgress progress = run.begin_epoch(epoch, train.size());
            for (const data::Example& batch : train) {
                if (progress.skip()) continue;
                optimizer.zero_grad();
                Tensor loss;
                {
                    const samples::PrecisionScope scope(o.precision);
                    loss = nn::functional::mse_loss(parallel->forward(batch.data), batch.target);
                }
                loss.backward();
                optimizer.step();
                progress.step(loss.item<double>(), static_cast<std::size_t>(batch.data.size(0)));
                if (run.stop_requested()) return run.stop(model, &optimizer, &plateau, progress);
            }
            progress.finish_bar();
            double test_loss = 0;
            {
                NoGradGuard no_grad;  // every rank holds the whole (small) test set and the same model
                const samples::PrecisionScope scope(o.precision);
                for (const data::Example& batch : test)
                    test_loss = nn::functional::mse_loss(model(batch.data), batch.target).item<double>();
            }
            plateau.step(test_loss);
            std::vector<double> sums{progress.loss_sum(), progress.examples()};
            parallel->sum(sums);
            progress.set_totals(sums[0], sums[1]);
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.started()).count();
            const double r2 = 1.0 - test_loss / target_variance;
            if (epoch % 10 == 0 || epoch == o.epochs) {
                logging::info("epoch ", epoch, ": train mse ", progress.mean_loss(), ", test mse ", test_loss,
                              ", test R^2 ", r2);
            }
            run.end_epoch(progress, {epoch, progress.mean_loss(), test_loss, r2, seconds}, model, &optimizer, &plateau);
        }
        if (!parallel->is_root()) return 0;
        std::cout << model << "\n"
                  << std::fixed << std::setprecision(3) << "recovered: a = " << model.a.item<float>()
                  << " (true 0.5), b = " << model.b.item<float>() << " (true -2), c = " << model.c.item<float>()
                  << " (true 3)\n"
                  << "metrics:    " << o.out << "/metrics.csv, " << o.out << "/steps.csv\n"
                  << "checkpoint: " << run.checkpoint_path() << "\n"
                  << "plot:       " << (run.plot().empty() ? "(" + run.plot_missing_reason() + ")" : run.plot())
                  << "\n";
        return 0;
    } catch (const Error& e) {
        const std::string message = std::string("regression: ") + e.what();
        if (parallel) {
            parallel->fail(message);
        } else {
            std::cerr << message << "\n";
        }
        return 1;
    }
}
