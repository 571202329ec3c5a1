#include "fashion_mnist.hpp"
#include "parallel.hpp"

#include <iostream>

namespace samples {

using namespace lazynn;

SampleCommandLine fashion_mnist_command_line(const std::string& description) {
    return {description, DataKind::Directory,
            "directory with the four Fashion-MNIST IDX files, .gz or plain (Debian: dataset-fashion-mnist)"};
}

int train_fashion_mnist(Module& model, const CommonOptions& o, const std::string& program, int argc, char** argv) {
    std::unique_ptr<Parallel> parallel;
    try {
        parallel = std::make_unique<Parallel>(model, o.distributed);
        use_threads(o.threads, o.precision, parallel->is_root());
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
        // Test batches of 100: each thread's share of a batch then keeps its activations in cache
        // (1000 took twice as long on the CNN; docs/performance.md, "The Fashion-MNIST sample").
        data::DataLoader test(test_set,
                              data::DataLoaderOptions(100).sampler(parallel->sampler(test_set->size(), false, 0)));
        const bool root = parallel->is_root();

        // Built before the first forward: the lazy parameters are materialised in place later.
        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));
        optim::CosineAnnealingLR scheduler(optimizer, o.epochs);
        TrainingRun run(o, argc, argv, MetricKind{}, root, parallel->enabled());
        if (!run.resume(model, &optimizer, &scheduler)) return 0;
        train.set_epoch(static_cast<std::uint64_t>(run.first_epoch() - 1));

        for (int epoch = run.first_epoch(); epoch <= o.epochs; ++epoch) {
            EpochProgress progress = run.begin_epoch(epoch, train.size());
            for (const data::Example& batch : train) {
                if (progress.skip()) continue;
                optimizer.zero_grad();
                Tensor loss;
                {
                    const PrecisionScope scope(o.precision);
                    loss = nn::functional::cross_entropy(parallel->forward(batch.data), batch.target);
                }
                loss.backward();
                optimizer.step();
                progress.step(loss.item<double>(), static_cast<std::size_t>(batch.target.size(0)));
                if (run.stop_requested()) return run.stop(model, &optimizer, &scheduler, progress);
            }
            progress.finish_bar();
            parallel->sync_buffers();  // every rank evaluates rank 0's model on its shard
            const EvaluationTotals totals = evaluate(model, test, run, o.precision);
            if (totals.interrupted) return run.stop(model, &optimizer, &scheduler, progress);
            scheduler.step();
            std::vector<double> sums{totals.loss_sum, totals.correct, totals.count, progress.loss_sum(),
                                     progress.examples()};
            parallel->sum(sums);
            progress.set_totals(sums[3], sums[4]);
            const double test_loss = sums[0] / sums[2], accuracy = sums[1] / sums[2];
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.started()).count();
            logging::info("epoch ", epoch, ": train loss ", progress.mean_loss(), ", test loss ", test_loss,
                          ", test accuracy ", accuracy * 100, "%, ", seconds, " s");
            run.end_epoch(progress, {epoch, progress.mean_loss(), test_loss, accuracy, seconds}, model, &optimizer,
                          &scheduler);
        }
        if (!root) return 0;
        if (run.first_epoch() == 1) std::cout << model << "\n";
        save(model, o.out + "/model.safetensors");
        std::cout << "metrics:    " << o.out << "/metrics.csv (per epoch), " << o.out << "/steps.csv (per step)\n"
                  << "checkpoint: " << run.checkpoint_path() << " (continue with --resume and a larger --epochs)\n"
                  << "weights:    " << o.out << "/model.safetensors\n"
                  << "plot:       " << (run.plot().empty() ? "(" + run.plot_missing_reason() + ")" : run.plot())
                  << "\n";
        if (!run.history().empty())
            std::cout << "final test accuracy: " << run.history().back().test_metric * 100 << "%\n";
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
