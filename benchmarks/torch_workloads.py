#!/usr/bin/env python3
"""The same workloads as benchmarks/workloads.cpp, in PyTorch (Debian's python3-torch).
Prints "name milliseconds" lines. Usage: torch_workloads.py [threads]"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)


def median_ms(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def mlp(i, h1, h2, o):
    if h2 == 0:
        return nn.Sequential(nn.Linear(i, h1), nn.ReLU(), nn.Linear(h1, o))
    return nn.Sequential(nn.Linear(i, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, o))


def train_step_ms(model, opt, x, y, classification, repeats, autocast=False):
    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(x)
            loss = F.cross_entropy(out, y) if classification else F.mse_loss(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return median_ms(step, 20, repeats)


def report(name, ms):
    print(f"{name} {ms:.4f}", flush=True)


m = mlp(16, 32, 32, 1)
report("tiny_mlp_sgd_b16", train_step_ms(m, torch.optim.SGD(m.parameters(), lr=0.01), torch.randn(16, 16), torch.randn(16, 1), False, 2000))
x64, y64 = torch.randn(64, 784), torch.randint(0, 10, (64,))
m = mlp(784, 256, 128, 10)
report("mlp_sgd_momentum_b64", train_step_ms(m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9), x64, y64, True, 500))
m = mlp(784, 256, 128, 10)
report("mlp_adam_b64", train_step_ms(m, torch.optim.Adam(m.parameters(), lr=1e-3), x64, y64, True, 500))
m = mlp(784, 256, 128, 10)
report("mlp_adam_b256", train_step_ms(m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(256, 784), torch.randint(0, 10, (256,)), True, 200))
cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
report("cnn_adam_b64", train_step_ms(cnn, torch.optim.Adam(cnn.parameters(), lr=1e-3), torch.randn(64, 1, 28, 28), y64, True, 30))
cnn = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                    nn.BatchNorm2d(64), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4096, 128), nn.ReLU(), nn.Dropout(0.5),
                    nn.Linear(128, 10))
report("cnn_bn_avgpool_b32", train_step_ms(cnn, torch.optim.Adam(cnn.parameters(), lr=1e-3), torch.randn(32, 3, 32, 32),
                                           torch.randint(0, 10, (32,)), True, 30))
mixed = nn.Sequential(nn.Linear(512, 384), nn.GELU(), nn.LayerNorm(384), nn.Linear(384, 192), nn.Tanh(), nn.Linear(192, 10))
report("mlp_gelu_layernorm_adamw_b96", train_step_ms(mixed, torch.optim.AdamW(mixed.parameters(), lr=1e-3), torch.randn(96, 512),
                                                     torch.randint(0, 10, (96,)), True, 300))
m = mlp(784, 256, 128, 10)
x1, x1024 = torch.randn(1, 784), torch.randn(1024, 784)
with torch.no_grad():
    report("mlp_inference_b1", median_ms(lambda: m(x1), 100, 5000))
    report("mlp_inference_b1024", median_ms(lambda: m(x1024), 10, 200))

def custom_step_ms(params, opt, loss_fn, repeats):
    def step():
        loss_fn().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return median_ms(step, 5, repeats)


def cifar_cnn():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(128, 10))


cnn = cifar_cnn()
report("cifar_cnn_sgd_b32", train_step_ms(cnn, torch.optim.SGD(cnn.parameters(), lr=0.01, momentum=0.9), torch.randn(32, 3, 32, 32),
                                          torch.randint(0, 10, (32,)), True, 20))
cnn.eval()
x1 = torch.randn(1, 3, 32, 32)
with torch.no_grad():
    report("cifar_cnn_inference_b1", median_ms(lambda: cnn(x1), 20, 500))
big = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
x512 = torch.randn(512, 1024)
with torch.no_grad():
    report("mlp1024_inference_b512", median_ms(lambda: big(x512), 5, 50))
# Issue 20's workloads under autocast (bfloat16).
cnn16 = cifar_cnn()
report("cifar_cnn_sgd_b32_bf16", train_step_ms(cnn16, torch.optim.SGD(cnn16.parameters(), lr=0.01, momentum=0.9),
                                               torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,)), True, 20,
                                               autocast=True))
with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
    report("mlp1024_inference_b512_bf16", median_ms(lambda: big(x512), 5, 50))
lstm, head = nn.LSTM(128, 256), nn.Linear(256, 10)
xs, ys = torch.randn(32, 32, 128), torch.randint(0, 10, (32,))
params = list(lstm.parameters()) + list(head.parameters())
report("lstm_h256_t32_b32_adam", custom_step_ms(params, torch.optim.Adam(params, lr=1e-3),
                                                lambda: F.cross_entropy(head(lstm(xs)[0][31]), ys), 20))
layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, batch_first=True)
xe, te = torch.randn(16, 64, 128), torch.randn(16, 64, 128)
report("encoder_d128_t64_b16_adamw", custom_step_ms(list(layer.parameters()), torch.optim.AdamW(layer.parameters(), lr=1e-3),
                                                    lambda: F.mse_loss(layer(xe), te), 30))
for batch in (16, 64, 256, 1024):
    m = mlp(784, 256, 128, 10)
    report(f"scale_batch_{batch}", train_step_ms(m, torch.optim.Adam(m.parameters(), lr=1e-3), torch.randn(batch, 784),
                                                 torch.randint(0, 10, (batch,)), True, 40 if batch >= 1024 else 200))
for width in (128, 512, 2048):
    m = mlp(784, width, width, 10)
    report(f"scale_width_{width}", train_step_ms(m, torch.optim.Adam(m.parameters(), lr=1e-3), x64, y64, True, 40 if width >= 2048 else 200))
