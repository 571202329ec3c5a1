#include "fashion_mnist.hpp"
#include "parallel.hpp"

#include <filesystem>
#include <iostream>

namespace samples {

using namespace lazynn;

int train_fashion_mnist(Module& model, const CommonOptions& o, const std::string& program) {
    std::unique_ptr<Parallel> parallel;
    try {
        parallel = std::make_unique<Parallel>(model, o.distributed);
        set_num_threads(o.threads);
        auto train_set = data::load_mnist(o.data, true);
        auto test_set = data::load_mnist(o.data, false);
        // Distributed: each rank a shard, reshuffled per epoch from the shared seed.
        data::DataLoaderOptions train_options(o.batch_size);
        if (auto shard = parallel->sampler(train_set->size(), true, o.seed)) {
            train_options.sampler(shard);
        } else {
            train_options.shuffle(true).seed(o.seed);
        }
        data::DataLoader train(train_set, train_options);
        data::DataLoader test(test_set, data::DataLoaderOptions(1000).sampler(parallel->sampler(test_set->size(), false, 0)));
        const bool root = parallel->is_root();

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
            samples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), root ? train.size() : 0);
            double loss_sum = 0;
            std::size_t seen = 0, step = 0;
            for (const data::Example& batch : train) {
                optimizer.zero_grad();
                const Tensor loss = nn::functional::cross_entropy(parallel->forward(batch.data), batch.target);
                loss.backward();
                optimizer.step();
                const auto n = static_cast<std::size_t>(batch.target.size(0));
                loss_sum += loss.item<double>() * static_cast<double>(n);
                seen += n;
                bar.update(++step, loss_sum / static_cast<double>(seen), seen);
            }
            bar.finish();
            scheduler.step();
            parallel->sync_buffers();  // every rank evaluates rank 0's model on its shard
            const EvaluationTotals totals = samples::evaluate(model, test);
            std::vector<double> sums{totals.loss_sum, totals.correct, totals.count, loss_sum, static_cast<double>(seen)};
            parallel->sum(sums);
            const double test_loss = sums[0] / sums[2], accuracy = sums[1] / sums[2];
            loss_sum = sums[3];
            seen = static_cast<std::size_t>(sums[4]);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            history.push_back({epoch, loss_sum / static_cast<double>(seen), test_loss, accuracy, seconds});
            logging::info("epoch ", epoch, ": train loss ", loss_sum / static_cast<double>(seen), ", test loss ", test_loss,
                          ", test accuracy ", accuracy * 100, "%, ", seconds, " s");
            if (!root) continue;  // one checkpoint, written by rank 0
            save_checkpoint(checkpoint, model, &optimizer, &scheduler, {epoch, {}});
            samples::record_metrics(o.out, history);
        }
        if (!root) return 0;
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
        const std::string message = program + ": " + e.what();
        if (parallel) {
            parallel->fail(message);  // stops every rank when distributed
        } else {
            std::cerr << message << "\n";
        }
        return 1;
    }
}

}  // namespace samples
