#!/usr/bin/env python3
"""Writes the reproducers of the bugs of issue 18 into tests/fuzz/regressions/<target>/.

Each is a small file that crashed, read out of bounds, let a standard exception escape or loaded
garbage before the fix. Most are the library's own seed files (fuzz_make_seeds SEEDS_DIR) with
one field changed, so they stay valid in every other respect:

    build/release/tests/fuzz/fuzz_make_seeds /tmp/seeds
    python3 tests/fuzz/make_regressions.py /tmp/seeds

Inputs a fuzzer finds later are committed as they come out of -minimize_crash instead.
"""
import json
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent / "regressions"


def read_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors[key] = (entry["dtype"], entry["shape"], data[begin:end])
    return header.get("__metadata__", {}), tensors


def safetensors_bytes(metadata, tensors, raw_header=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    payload = b""
    for key, (dtype, shape, data) in tensors.items():
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(payload), len(payload) + len(data)]}
        payload += data
    text = (raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def f64(values):
    return struct.pack("<%dd" % len(values), *values)


def write(target, name, data):
    d = HERE / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main(seeds):
    seeds = pathlib.Path(seeds)
    # --- safetensors: shapes whose element count overflows 64 bits (they wrapped to what the offsets hold).
    write("safetensors", "shape-2pow62plus1-by-4-wraps-to-16-bytes", safetensors_bytes({}, {}, raw_header=json.dumps(
        {"x": {"dtype": "F32", "shape": [2**62 + 1, 4], "data_offsets": [0, 16]}})) + bytes(16))
    write("safetensors", "shape-65536-pow-4", safetensors_bytes({}, {}, raw_header=json.dumps(
        {"x": {"dtype": "F32", "shape": [65536] * 4, "data_offsets": [0, 0]}})))
    write("safetensors", "shape-extent-above-int64-max", safetensors_bytes({}, {}, raw_header=json.dumps(
        {"x": {"dtype": "I64", "shape": [2**64 - 1], "data_offsets": [0, 8]}})) + bytes(8))
    write("safetensors", "shape-not-a-list", safetensors_bytes({}, {}, raw_header=json.dumps(
        {"x": {"dtype": "F64", "shape": 3, "data_offsets": [0, 8]}})) + bytes(8))

    # --- lazy_load: tensors materialised from their own shapes that disagree with each other.
    meta, image = read_safetensors(seeds / "lazy_load" / "image.safetensors")
    short_stats = dict(image)
    short_stats["1.running_mean"] = ("F32", [2], f32([0, 0]))
    write("lazy_load", "batchnorm-running-mean-shorter-than-weight", safetensors_bytes(meta, short_stats))
    short_bias = dict(image)
    short_bias["0.bias"] = ("F32", [1], f32([0]))
    write("lazy_load", "conv-bias-shorter-than-out-channels", safetensors_bytes(meta, short_bias))
    long_bias = dict(image)
    long_bias["3.bias"] = ("F32", [9], f32([0] * 9))
    write("lazy_load", "conv-transpose-bias-longer-than-out-channels", safetensors_bytes(meta, long_bias))
    flat_linear = dict(image)
    flat_linear["5.weight"] = ("F32", [3], f32([1, 2, 3]))
    write("lazy_load", "linear-weight-1d", safetensors_bytes(meta, flat_linear))
    nan_count = dict(image)
    nan_count["1.num_batches_tracked"] = ("F64", [], f64([float("nan")]))
    write("lazy_load", "num-batches-tracked-nan", safetensors_bytes(meta, nan_count))

    # --- checkpoint: optimizer and scheduler state that does not fit, metadata that does not parse.
    meta, adam = read_safetensors(seeds / "checkpoint" / "adam.ckpt")
    wrong = dict(adam)
    wrong["optimizer.state.2.exp_avg"] = ("F32", [1], f32([0]))
    write("checkpoint", "adam-exp-avg-wrong-shape", safetensors_bytes(meta, wrong))
    wrong = dict(adam)
    wrong["optimizer.state.0.max_exp_avg_sq"] = ("F32", [1], f32([0]))
    write("checkpoint", "adam-max-exp-avg-sq-wrong-shape", safetensors_bytes(meta, wrong))
    wrong = dict(adam)
    wrong["scheduler.base_lrs"] = ("F64", [3], f64([0.1, 0.1, 0.1]))
    write("checkpoint", "scheduler-base-lrs-wrong-length", safetensors_bytes(meta, wrong))
    wrong = dict(adam)
    wrong["scheduler.last_epoch"] = ("F64", [], f64([float("nan")]))
    write("checkpoint", "scheduler-last-epoch-nan", safetensors_bytes(meta, wrong))
    wrong = dict(adam)
    wrong["optimizer.state.0.step"] = ("F64", [], f64([float("inf")]))
    write("checkpoint", "optimizer-step-inf", safetensors_bytes(meta, wrong))
    for name, key, value in [("epoch-not-a-number", "epoch", "abc"), ("epoch-out-of-range", "epoch", "99999999999999999999"),
                             ("rng-state-garbage", "rng_state", "garbage")]:
        write("checkpoint", name, safetensors_bytes(dict(meta, **{key: value}), adam))
    meta, sgd = read_safetensors(seeds / "checkpoint" / "sgd.ckpt")
    wrong = dict(sgd)
    wrong["optimizer.state.0.momentum_buffer"] = ("F32", [2], f32([0, 0]))
    write("checkpoint", "sgd-momentum-buffer-wrong-shape", safetensors_bytes(meta, wrong))

    # --- idx: a header whose element count overflows 64 bits.
    write("idx", "shape-65536-pow-4", bytes([0, 0, 8, 4]) + bytes([0, 1, 0, 0]) * 4)
    # --- csv: a trailing empty cell (was dropped) and an embedded NUL (truncated the cell).
    write("csv", "trailing-empty-cell", b"1,2,\n3,4,\n")
    write("csv", "embedded-nul", b"1,2\n3,4\x0099\n")


if __name__ == "__main__":
    main(sys.argv[1])
