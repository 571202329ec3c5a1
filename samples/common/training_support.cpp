#include "training_support.hpp"

namespace samples {

EvaluationTotals evaluate(lazynn::Module& model, lazynn::data::DataLoader& loader, const TrainingRun& run,
                          Precision precision) {
    using namespace lazynn;
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    EvaluationTotals totals;
    const auto bar = run.evaluation_progress(loader.size());
    std::size_t step = 0;
    for (const data::Example& batch : loader) {
        Tensor logits, loss;
        {
            const PrecisionScope scope(precision);
            logits = model(batch.data);
            loss = nn::functional::cross_entropy(logits, batch.target,
                                                 nn::CrossEntropyLossOptions().reduction(nn::Reduction::Sum));
        }
        totals.loss_sum += loss.item<double>();
        totals.correct += (logits.argmax(1) == batch.target).sum().item<double>();
        totals.count += static_cast<double>(batch.target.size(0));
        bar->update(++step, std::nullopt, totals.count);
        if (run.stop_requested()) {
            totals.interrupted = true;
            break;
        }
    }
    bar->finish();
    model.train(was_training);
    return totals;
}

void use_threads(int threads, Precision precision, bool log_backend) {
    lazynn::set_num_threads(threads);
    if (!log_backend) return;
    const lazynn::BackendInfo backend = lazynn::backend_info();
    lazynn::logging::info("backend: ", backend.summary());
    lazynn::logging::info(
        "precision: ", precision_name(precision),
        precision == Precision::Bf16 ? " (autocast: " + backend.bfloat16 + ")" : std::string(" (float32 throughout)"));
    for (const std::string& warning : backend.warnings) lazynn::logging::warn(warning);
}

}  // namespace samples
