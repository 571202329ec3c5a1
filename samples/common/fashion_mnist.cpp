#include "fashion_mnist.hpp"

#include <filesystem>
#include <iostream>

namespace samples {

using namespace lazynn;

int train_fashion_mnist(Module& model, const CommonOptions& o, const std::string& program) {
    try {
        set_num_threads(o.threads);
        auto train_set = data::load_mnist(o.data, true);
        auto test_set = data::load_mnist(o.data, false);
        data::DataLoader train(train_set, data::DataLoaderOptions(o.batch_size).shuffle(true).seed(o.seed));
        data::DataLoader test(test_set, data::DataLoaderOptions(1000));

        // Built before the first forward: the lazy parameters are materialised in place later.
        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));
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
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace samples
