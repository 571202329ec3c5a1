// Fits a custom Module with its own Parameters to noisy data and prints the recovered
// coefficients: y = 0.5 - 2 x + 3 x^2 + noise, modelled as a quadratic.
//
//   regression [--epochs 60] [--batch-size 64] [--lr 0.05] [--seed 0] [--out out/regression] [--resume]
#include "training_support.hpp"

#include <filesystem>
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
    if (int code = samples::parse_options(argc, argv, "Fit a quadratic Module to noisy data", o); code >= 0) return code;
    try {
        set_num_threads(o.threads);
        manual_seed(o.seed);
        auto make_data = [](std::int64_t n) {
            const Tensor x = rand({n, 1}) * 4.0 - 2.0;
            const Tensor y = 0.5 - 2.0 * x + 3.0 * x * x + randn({n, 1}) * 0.3;
            return std::make_shared<data::TensorDataset>(x, y);
        };
        data::DataLoader train(make_data(2048), data::DataLoaderOptions(o.batch_size).shuffle(true).seed(o.seed));
        auto test_set = make_data(512);
        data::DataLoader test(test_set, data::DataLoaderOptions(512));
        const double target_variance = test_set->targets().var(false).item<double>();

        Quadratic model;
        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));
        optim::ReduceLROnPlateau plateau(optimizer, optim::ReduceLROnPlateau::Options().patience(5).factor(0.5));
        const std::string checkpoint = o.out + "/checkpoint.safetensors";
        std::filesystem::create_directories(o.out);
        int first_epoch = 1;
        if (o.resume && std::filesystem::exists(checkpoint)) {
            first_epoch = static_cast<int>(load_checkpoint(checkpoint, model, &optimizer, nullptr).epoch) + 1;
            train.set_epoch(static_cast<std::uint64_t>(first_epoch - 1));
        }
        std::vector<samples::EpochMetrics> history;
        for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
            const auto start = std::chrono::steady_clock::now();
            double loss_sum = 0;
            std::size_t seen = 0;
            for (const data::Example& batch : train) {
                optimizer.zero_grad();
                const Tensor loss = nn::functional::mse_loss(model(batch.data), batch.target);
                loss.backward();
                optimizer.step();
                loss_sum += loss.item<double>() * static_cast<double>(batch.data.size(0));
                seen += static_cast<std::size_t>(batch.data.size(0));
            }
            double test_loss = 0;
            {
                NoGradGuard no_grad;
                for (const data::Example& batch : test) test_loss = nn::functional::mse_loss(model(batch.data), batch.target).item<double>();
            }
            plateau.step(test_loss);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            // A regression has no accuracy: the metrics' accuracy column holds R^2 on the test set.
            history.push_back({epoch, loss_sum / static_cast<double>(seen), test_loss, 1.0 - test_loss / target_variance, seconds});
            if (epoch % 10 == 0 || epoch == o.epochs) logging::info("epoch ", epoch, ": train mse ", loss_sum / static_cast<double>(seen), ", test mse ", test_loss);
            save_checkpoint(checkpoint, model, &optimizer, nullptr, {epoch, {}});
        }
        samples::record_metrics(o.out, history);
        std::cout << model << "\n" << std::fixed << std::setprecision(3)
                  << "recovered: a = " << model.a.item<float>() << " (true 0.5), b = " << model.b.item<float>()
                  << " (true -2), c = " << model.c.item<float>() << " (true 3)\n"
                  << "metrics: " << o.out << "/metrics.csv, checkpoint: " << checkpoint << "\n";
        return 0;
    } catch (const Error& e) {
        std::cerr << "regression: " << e.what() << "\n";
        return 1;
    }
}
