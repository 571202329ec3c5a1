// The VAE example from docs/training.md: a module whose forward returns three tensors (the
// reconstruction, and the mean and log-variance of the code), written as a TypedModule so calling
// it, hooks, initialize() and summary() work as for any module. It trains on synthetic data (two
// clusters of 12-dimensional points) and checks that the loss falls. CI compiles and runs it.
#include <lazynn/lazynn.hpp>

#include <cstdint>
#include <iostream>

namespace nn = lazynn::nn;
namespace optim = lazynn::optim;
namespace F = lazynn::nn::functional;
using lazynn::Tensor;

// What the forward returns: any aggregate struct of tensors works, no macro or registration.
struct VAEOutput {
    Tensor reconstruction, mu, logvar;
};

// Kingma & Welling's VAE with one hidden layer each way. The encoder infers the input width; the
// decoder's output width is a constructor argument (it must equal the input's).
// A forward of one tensor returning a structure takes the tensor by value (see writing-a-module.md).
struct VAE : lazynn::Cloneable<VAE, lazynn::TypedModule<VAEOutput(Tensor)>> {
    struct Sizes {
        std::int64_t features, hidden, latent;
    } sizes;  // declared first: the members below read it in their initialisers

    VAE(std::int64_t features, std::int64_t hidden, std::int64_t latent) : sizes{features, hidden, latent} {}

    nn::LazyLinear encoder{this, "encoder", sizes.hidden};
    nn::Linear to_mu{this, "to_mu", sizes.hidden, sizes.latent};
    nn::Linear to_logvar{this, "to_logvar", sizes.hidden, sizes.latent};
    nn::Linear decoder_hidden{this, "decoder_hidden", sizes.latent, sizes.hidden};
    nn::Linear decoder_out{this, "decoder_out", sizes.hidden, sizes.features};

    // Shapes: x [N, features] -> reconstruction [N, features], mu [N, latent], logvar [N, latent]
    VAEOutput forward(Tensor x) override {
        const Tensor h = encoder(x).relu();
        const Tensor mu = to_mu(h);
        const Tensor logvar = to_logvar(h);
        // The reparameterisation trick: in training a sample of the code, in eval its mean.
        const Tensor z = is_training() ? mu + lazynn::randn_like(mu) * (logvar * 0.5).exp() : mu;
        return {decoder_out(decoder_hidden(z).relu()), mu, logvar};
    }
};

// The negative evidence lower bound per sample: reconstruction error plus the KL divergence of
// N(mu, exp(logvar)) from N(0, 1).
Tensor vae_loss(const VAEOutput& out, const Tensor& x) {
    const double n = static_cast<double>(x.size(0));
    const Tensor reconstruction = F::mse_loss(out.reconstruction, x, nn::Reduction::Sum);
    const Tensor kl = ((out.mu * out.mu) + out.logvar.exp() - out.logvar - 1.0).sum() * 0.5;
    return (reconstruction + kl) / n;
}

int main() {
    lazynn::manual_seed(0);
    constexpr std::int64_t features = 12;
    // Two clusters: points near +1 or -1 in every coordinate.
    const Tensor signs = lazynn::randint(0, 2, {256, 1}).to(lazynn::kFloat32) * 2.0 - 1.0;
    const Tensor data = signs * lazynn::ones({1, features}) + lazynn::randn({256, features}) * 0.1;

    VAE vae(features, 32, 2);
    std::cout << vae.summary(data.narrow(0, 0, 4)) << '\n';  // materialises the encoder: [4, 12] -> 3 outputs

    // A hook sees the three outputs as a list, as PyTorch's hook sees the returned tuple.
    std::int64_t outputs_seen = 0;
    auto hook =
        vae.register_forward_hook([&](lazynn::Module&, const std::vector<Tensor>&, const std::vector<Tensor>& outputs) {
            outputs_seen = static_cast<std::int64_t>(outputs.size());
        });

    optim::Adam opt(vae.parameters(), optim::AdamOptions(1e-2));
    double first = 0, last = 0;
    for (int epoch = 0; epoch < 60; ++epoch) {
        double total = 0;
        for (std::int64_t start = 0; start < 256; start += 64) {
            const Tensor x = data.narrow(0, start, 64);
            opt.zero_grad();
            const VAEOutput out = vae(x);  // the hooks run around forward
            const Tensor loss = vae_loss(out, x);
            loss.backward();
            opt.step();
            total += loss.item<double>();
        }
        if (epoch == 0) first = total / 4;
        last = total / 4;
    }
    hook.remove();
    std::cout << "loss: first epoch " << first << ", last epoch " << last << " (the hook saw " << outputs_seen
              << " outputs)\n";

    // The code separates the clusters: the means of the two clusters' codes lie far apart.
    vae.eval();
    lazynn::NoGradGuard no_grad;
    const VAEOutput out = vae(data);
    const Tensor positive = signs.gt(0.0).to(lazynn::kFloat32);
    const Tensor mean_pos = (out.mu * positive).sum({0}) / positive.sum();
    const Tensor mean_neg = (out.mu * (1.0 - positive)).sum({0}) / (1.0 - positive).sum();
    const double separation = (mean_pos - mean_neg).pow(2.0).sum().sqrt().item<double>();
    std::cout << "distance between the clusters' mean codes: " << separation << '\n';
    return outputs_seen == 3 && last < 0.5 * first && separation > 1.0 ? 0 : 1;
}
