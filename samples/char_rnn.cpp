// A character-level language model: a LazyLSTM (input_size inferred from the one-hot width) and a
// LazyLinear head, trained on a text file, then sampling new text.
//
//   char_rnn [--data /usr/share/common-licenses/GPL-3] [--epochs 50] [--batch-size 32] [--lr 3e-3]
//            [--seed 0] [--out out/char_rnn] [--resume] [--threads 1] [--distributed]
#include "parallel.hpp"
#include "training_support.hpp"

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

using namespace lazynn;

struct CharModel : Cloneable<CharModel> {
    explicit CharModel(std::int64_t vocab) : head(this, "head", vocab) {}

    nn::LazyLSTM lstm{this, "lstm", nn::LazyRNNOptions(128).batch_first(true)};
    nn::LazyLinear head;  // sized by the vocabulary, given at construction

    /// Shapes: one-hot input [N, T, V] -> logits [N, T, V]
    Tensor forward(const Tensor& x) override { return head(lstm(x)); }
};

int main(int argc, char** argv) {
    samples::CommonOptions o;
    o.epochs = 50;
    o.batch_size = 32;
    o.lr = 3e-3;
    o.data = "/usr/share/common-licenses/GPL-3";
    o.out = "out/char_rnn";
    const samples::SampleCommandLine command_line{"Character-level LSTM language model", samples::DataKind::File,
                                                  "text file to train on (any plain text of a few kB or more)"};
    if (int code = samples::parse_options(argc, argv, command_line, o); code >= 0) return code;
    std::unique_ptr<samples::Parallel> parallel;
    try {
        set_num_threads(o.threads);
        manual_seed(o.seed);
        std::ifstream in(o.data);
        if (!in) throw RuntimeError(o.data + ": cannot open the training text (pass --data FILE)");
        std::stringstream buffer;
        buffer << in.rdbuf();
        const std::string text = buffer.str();
        if (text.size() < 1000)
            throw RuntimeError(o.data + ": too short to train on (" + std::to_string(text.size()) + " characters)");
        std::map<char, std::int64_t> index;
        std::string alphabet;
        for (char ch : text) index.emplace(ch, 0);
        for (auto& [ch, id] : index) {
            id = static_cast<std::int64_t>(alphabet.size());
            alphabet.push_back(ch);
        }
        const auto vocab = static_cast<std::int64_t>(alphabet.size());
        std::vector<std::int64_t> ids;
        for (char ch : text) ids.push_back(index[ch]);
        const Tensor identity = [&] {
            Tensor eye = zeros({vocab, vocab});
            for (std::int64_t i = 0; i < vocab; ++i) eye.select(0, i).select(0, i).fill_(1.0);
            return eye;
        }();

        // Windows of seq_len + 1 characters; the last 10% of the text is held out.
        const std::int64_t seq_len = 64;
        const auto split = static_cast<std::int64_t>(ids.size() * 9 / 10);
        auto windows = [&](std::int64_t begin, std::int64_t end) {
            std::vector<std::int64_t> starts;
            for (std::int64_t s = begin; s + seq_len + 1 <= end; s += seq_len) starts.push_back(s);
            std::vector<std::int64_t> flat;
            for (auto s : starts) flat.insert(flat.end(), ids.begin() + s, ids.begin() + s + seq_len + 1);
            return std::make_shared<data::TensorDataset>(
                tensor(flat, {static_cast<std::int64_t>(starts.size()), seq_len + 1}),
                zeros({static_cast<std::int64_t>(starts.size())}, kInt64));
        };
        CharModel model(vocab);
        parallel = std::make_unique<samples::Parallel>(model, o.distributed);
        samples::use_threads(o.threads, o.precision, parallel->is_root());
        auto train_set = windows(0, split);
        data::DataLoaderOptions train_options(o.batch_size);
        if (auto shard = parallel->sampler(train_set->size(), true, o.seed)) {
            train_options.sampler(shard);  // distributed: each rank a shard of every epoch
        } else {
            train_options.shuffle(true).seed(o.seed);
        }
        data::DataLoader train(train_set, train_options);
        data::DataLoader test(windows(split, static_cast<std::int64_t>(ids.size())), data::DataLoaderOptions(256));
        auto one_hot = [&](const Tensor& idx) {
            return identity.index_select(0, idx.reshape({-1})).reshape({idx.size(0), idx.size(1), vocab});
        };
        auto loss_of = [&](const std::function<Tensor(const Tensor&)>& m, const Tensor& window, double* correct) {
            const samples::PrecisionScope scope(o.precision);
            const Tensor inputs = window.narrow(1, 0, seq_len), targets = window.narrow(1, 1, seq_len).contiguous();
            const Tensor logits = m(one_hot(inputs)).reshape({-1, vocab});
            if (correct) *correct += (logits.argmax(1) == targets.reshape({-1})).sum().item<double>();
            return nn::functional::cross_entropy(logits, targets.reshape({-1}));
        };

        optim::Adam optimizer(model.parameters(), optim::AdamOptions(o.lr));
        samples::TrainingRun run(o, argc, argv, samples::MetricKind{"test_accuracy", "next-character accuracy", true},
                                 parallel->is_root(), parallel->enabled());
        if (!run.resume(model, &optimizer, nullptr)) return 0;
        train.set_epoch(static_cast<std::uint64_t>(run.first_epoch() - 1));
        auto distributed_forward = [&](const Tensor& x) { return parallel->forward(x); };
        auto plain_forward = [&](const Tensor& x) { return model(x); };
        for (int epoch = run.first_epoch(); epoch <= o.epochs; ++epoch) {
            samples::EpochProgress progress = run.begin_epoch(epoch, train.size());
            for (const data::Example& batch : train) {
                if (progress.skip()) continue;
                optimizer.zero_grad();
                const Tensor loss = loss_of(distributed_forward, batch.data, nullptr);
                loss.backward();
                optim::clip_grad_norm_(model.parameters(), 5.0);
                optimizer.step();
                progress.step(loss.item<double>(), static_cast<std::size_t>(batch.data.size(0)));
                if (run.stop_requested()) return run.stop(model, &optimizer, nullptr, progress);
            }
            progress.finish_bar();
            // Every rank holds the held-out text and the same model, so each evaluates all of it.
            double test_loss = 0, correct = 0, count = 0;
            {
                NoGradGuard no_grad;
                const auto bar = run.evaluation_progress(test.size());
                std::size_t step = 0;
                for (const data::Example& batch : test) {
                    test_loss += loss_of(plain_forward, batch.data, &correct).item<double>() *
                                 static_cast<double>(batch.data.size(0));
                    count += static_cast<double>(batch.data.size(0));
                    bar->update(++step, std::nullopt, count);
                    if (run.stop_requested()) return run.stop(model, &optimizer, nullptr, progress);
                }
            }
            std::vector<double> sums{progress.loss_sum(), progress.examples()};
            parallel->sum(sums);
            progress.set_totals(sums[0], sums[1]);
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.started()).count();
            const double accuracy = correct / (count * seq_len);
            logging::info("epoch ", epoch, ": train loss ", progress.mean_loss(), ", held-out loss ", test_loss / count,
                          ", next-character accuracy ", accuracy * 100, "%");
            run.end_epoch(progress, {epoch, progress.mean_loss(), test_loss / count, accuracy, seconds}, model,
                          &optimizer, nullptr);
        }
        if (!parallel->is_root()) return 0;

        // Sample 400 characters, feeding the state forward one character at a time.
        NoGradGuard no_grad;
        model.eval();
        Generator gen(o.seed + 1);
        std::string sample = "This ";
        nn::RNNResult state =
            model.lstm(one_hot(tensor(std::vector<std::int64_t>{index[sample[0]]}, {1, 1})), Tensor(), Tensor());
        for (std::size_t i = 1; i < sample.size(); ++i) {
            state =
                model.lstm(one_hot(tensor(std::vector<std::int64_t>{index[sample[i]]}, {1, 1})), state.h_n, state.c_n);
        }
        for (int i = 0; i < 400; ++i) {
            const std::vector<double> p = (model.head(state.output).reshape({-1}) / 0.8).softmax(0).to_vector<double>();
            double u = gen.uniform();
            std::size_t next = 0;
            while (next + 1 < p.size() && u > p[next]) u -= p[next++];
            sample.push_back(alphabet[next]);
            state = model.lstm(one_hot(tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(next)}, {1, 1})),
                               state.h_n, state.c_n);
        }
        std::cout << model << "\n--- sample ---\n"
                  << sample << "\n--------------\n"
                  << "metrics:    " << o.out << "/metrics.csv, " << o.out << "/steps.csv\n"
                  << "checkpoint: " << run.checkpoint_path() << "\n"
                  << "plot:       " << (run.plot().empty() ? "(" + run.plot_missing_reason() + ")" : run.plot())
                  << "\n";
        return 0;
    } catch (const Error& e) {
        const std::string message = std::string("char_rnn: ") + e.what();
        if (parallel) {
            parallel->fail(message);
        } else {
            std::cerr << message << "\n";
        }
        return 1;
    }
}
