#!/usr/bin/env python3
"""The tensor ops of benchmarks/micro.cpp that issue 21 added (sort, topk, gather, cumsum, einsum),
timed in PyTorch (ATen: the kernels libtorch runs) with the same shapes, float32, and the same
thread count. Prints "name microseconds" per op, the names of micro.cpp's benchmarks.

Run: /usr/bin/python3 benchmarks/torch_micro_ops.py [THREADS]   (default 2)
"""
import sys

import torch
import torch.utils.benchmark as benchmark


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x64, x4096 = torch.randn(256, 64), torch.randn(256, 4096)
    g, index = torch.randn(1024, 512), torch.randint(0, 512, (1024, 512))
    q, k = torch.randn(8, 4, 64, 32), torch.randn(8, 4, 64, 32)
    ops = {
        "BM_SortLastDim/64": lambda: x64.sort(-1).values,
        "BM_SortLastDim/4096": lambda: x4096.sort(-1).values,
        "BM_TopkLastDim/1": lambda: x4096.topk(1).values,
        "BM_TopkLastDim/64": lambda: x4096.topk(64).values,
        "BM_Gather": lambda: g.gather(1, index),
        "BM_CumsumDim0": lambda: g.cumsum(0),
        "BM_EinsumAttentionScores": lambda: torch.einsum("bhqd,bhkd->bhqk", q, k),
    }
    for name, fn in ops.items():
        timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
        print(f"{name} {timer.blocked_autorange(min_run_time=1.0).median * 1e6:.1f}")


if __name__ == "__main__":
    main()
