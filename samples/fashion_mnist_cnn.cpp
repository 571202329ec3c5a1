// Trains a small CNN built from lazy layers on Fashion-MNIST: LazyConv2d + LazyBatchNorm2d +
// pooling, then LazyLinear. No layer is told its input size.
//
//   fashion_mnist_cnn [--epochs 5] [--batch-size 64] [--lr 1e-3] [--seed 0]
//                     [--data /usr/share/datasets/fashion-mnist] [--out out/fashion_mnist_cnn]
//                     [--resume] [--threads 1]
#include "training_support.hpp"

#include <filesystem>
#include <iostream>

using namespace lazynn;

struct Cnn : Cloneable<Cnn> {
    nn::Sequential features{this, "features",
                            nn::LazyConv2d(32, 3), nn::LazyBatchNorm2d(), nn::ReLU(), nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                            nn::LazyConv2d(64, 3), nn::LazyBatchNorm2d(), nn::ReLU(), nn::MaxPool2d(nn::MaxPoolOptions<2>(2))};
    nn::Flatten flatten{this, "flatten"};
    nn::Sequential classifier{this, "classifier", nn::LazyLinear(128), nn::ReLU(), nn::Dropout(0.25), nn::LazyLinear(10)};

    /// Shapes: input [N, 1, 28, 28] -> logits [N, 10]
    Tensor forward(const Tensor& x) override { return classifier(flatten(features(x))); }
};

int main(int argc, char** argv) {
    samples::CommonOptions o;
    o.out = "out/fashion_mnist_cnn";
    if (int code = samples::parse_options(argc, argv, "Fashion-MNIST CNN with lazy layers", o); code >= 0) return code;
    try {
        set_num_threads(o.threads);
        manual_seed(o.seed);
        auto train_set = data::load_mnist(o.data, true);
        auto test_set = data::load_mnist(o.data, false);
        data::DataLoader train(train_set, data::DataLoaderOptions(o.batch_size).shuffle(true).seed(o.seed));
        data::DataLoader test(test_set, data::DataLoaderOptions(1000));

        Cnn model;
        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));   // before the first forward
        optim::CosineAnnealingLR scheduler(optimizer, o.epochs);
        const std::string checkpoint = o.out + "/checkpoint.safetensors";
        std::filesystem::create_directories(o.out);

        int first_epoch = 1;
        std::vector<samples::EpochMetrics> history;
        if (o.resume && std::filesystem::exists(checkpoint)) {
            const TrainingState state = load_checkpoint(checkpoint, model, &optimizer, &scheduler);
            first_epoch = static_cast<int>(state.epoch) + 1;
            train.set_epoch(static_cast<std::uint64_t>(state.epoch));
            logging::info("resumed from ", checkpoint, " after epoch ", state.epoch);
        }

        for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
            const auto start = std::chrono::steady_clock::now();
            samples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), train.size());
            double loss_sum = 0;
            std::size_t seen = 0, step = 0;
            for (const data::Example& batch : train) {
                optimizer.zero_grad();
                const Tensor loss = nn::functional::cross_entropy(model(batch.data), batch.target);
                loss.backward();
                optimizer.step();
                const auto n = static_cast<std::size_t>(batch.target.size(0));
                loss_sum += loss.item<double>() * static_cast<double>(n);
                seen += n;
                bar.update(++step, loss_sum / static_cast<double>(seen), seen);
            }
            bar.finish();
            scheduler.step();
            const auto [test_loss, accuracy] = samples::evaluate(model, test);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            history.push_back({epoch, loss_sum / static_cast<double>(seen), test_loss, accuracy, seconds});
            logging::info("epoch ", epoch, ": train loss ", loss_sum / static_cast<double>(seen), ", test loss ", test_loss,
                          ", test accuracy ", accuracy * 100, "%, ", seconds, " s");
            save_checkpoint(checkpoint, model, &optimizer, &scheduler, {epoch, {}});
            samples::record_metrics(o.out, history);
        }
        if (first_epoch == 1) std::cout << model << "\n";
        save(model, o.out + "/model.safetensors");
        const std::string plot = samples::record_metrics(o.out, history);
        std::cout << "metrics:    " << o.out << "/metrics.csv\n"
                  << "checkpoint: " << checkpoint << " (resume with --resume)\n"
                  << "weights:    " << o.out << "/model.safetensors\n"
                  << "plot:       " << (plot.empty() ? "(install gnuplot to render curves.png)" : plot) << "\n";
        if (!history.empty()) std::cout << "final test accuracy: " << history.back().test_accuracy * 100 << "%\n";
        return 0;
    } catch (const Error& e) {
        std::cerr << "fashion_mnist_cnn: " << e.what() << "\n";
        return 1;
    }
}
