#!/usr/bin/env python3
"""The Fashion-MNIST samples in PyTorch (Debian's python3-torch), for the side-by-side peak-memory
and time comparison in docs/performance.md: the same models, optimizer, schedule, batch sizes and
data handling as samples/fashion_mnist_{cnn,mlp} (images kept as uint8 and divided by 255 per
batch, as torchvision's ToTensor does).

Usage: torch_fashion_mnist.py cnn|mlp [epochs] [threads]"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(DATA, name)
        if os.path.exists(path):
            raw = gzip.open(path).read() if name.endswith(".gz") else open(path, "rb").read()
            rank = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * d:8 + 4 * d], "big") for d in range(rank)]
            return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims).copy())
    raise FileNotFoundError(stem)


def cnn():
    return nn.Sequential(nn.LazyConv2d(32, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.MaxPool2d(2),
                         nn.LazyConv2d(64, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.LazyLinear(128), nn.ReLU(), nn.Dropout(0.25), nn.LazyLinear(10))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(128), nn.ReLU(), nn.LazyLinear(10))


def main():
    kind = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    torch.manual_seed(0)
    train_x, train_y = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte").long()
    test_x, test_y = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte").long()
    model = cnn() if kind == "cnn" else mlp()
    model(train_x[:2].float().unsqueeze(1) / 255)   # materialise the lazy layers before the optimizer
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    batch = 64
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            x = train_x[idx].float().unsqueeze(1) / 255
            opt.zero_grad()
            loss = F.cross_entropy(model(x), train_y[idx])
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_x), 100):
                logits = model(test_x[i:i + 100].float().unsqueeze(1) / 255)
                correct += (logits.argmax(1) == test_y[i:i + 100]).sum().item()
        print(f"epoch {epoch + 1}: test accuracy {100 * correct / len(test_x):.2f}%, {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
