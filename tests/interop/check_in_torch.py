#!/usr/bin/env python3
"""Loads a checkpoint written by lazynn into the same PyTorch model and compares outputs, then
writes a PyTorch checkpoint for lazynn to load; the same both ways in 16 bits (BF16 from lazynn,
F16 from PyTorch). safetensors files are read and written with
json + numpy (Debian ships no python3-safetensors).

Usage: check_in_torch.py DIR
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
CODES = {v: k for k, v in DTYPES.items()}
# numpy has no bfloat16: 16-bit values are read as int16 and viewed as torch's type.
SIXTEEN_BIT = {"F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        if entry["dtype"] in SIXTEEN_BIT:
            array = np.frombuffer(data[begin:end], dtype="<i2").reshape(entry["shape"])
            out[name] = torch.from_numpy(array.copy()).view(SIXTEEN_BIT[entry["dtype"]])
            continue
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        code = next((c for c, d in SIXTEEN_BIT.items() if d == t.dtype), None)
        array = t.view(torch.int16).numpy() if code else t.numpy()
        blob = array.tobytes()
        code = code or CODES[array.dtype.type]
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 5), nn.ReLU(), nn.Linear(5, 3))


def main():
    directory = sys.argv[1]
    model = make_model()
    model.load_state_dict(read_safetensors(f"{directory}/lazynn_model.safetensors"))   # strict: every key and shape
    model.eval()
    io = read_safetensors(f"{directory}/lazynn_io.safetensors")
    with torch.no_grad():
        out = model(io["input"])
    if not torch.allclose(out, io["output"], rtol=1e-5, atol=1e-6):
        print("lazynn checkpoint in PyTorch: outputs DIFFER", (out - io["output"]).abs().max().item())
        return 1
    print("lazynn checkpoint in PyTorch: outputs match")

    # The same model saved by lazynn in BF16 holds exactly what PyTorch's .bfloat16() makes of it.
    full = read_safetensors(f"{directory}/lazynn_model.safetensors")
    narrow = read_safetensors(f"{directory}/lazynn_model_bf16.safetensors")
    for name, t in full.items():
        want = t.bfloat16() if t.is_floating_point() else t
        if narrow[name].dtype != want.dtype or not torch.equal(narrow[name], want):
            print(f"lazynn BF16 checkpoint in PyTorch: '{name}' differs from .bfloat16()")
            return 1
    model.load_state_dict(narrow)   # converted to the parameters' float32
    print("lazynn BF16 checkpoint in PyTorch: equal to .bfloat16() and loads")

    torch.manual_seed(5)
    theirs = make_model()
    theirs(torch.randn(8, 1, 10, 10))   # move the running statistics
    theirs.eval()
    x = torch.randn(2, 1, 10, 10)
    with torch.no_grad():
        y = theirs(x)
    write_safetensors(f"{directory}/torch_model.safetensors", theirs.state_dict())
    # Half precision as published checkpoints store it, and the float32 values it stands for.
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in theirs.state_dict().items()}
    write_safetensors(f"{directory}/torch_model_f16.safetensors", half)
    write_safetensors(f"{directory}/torch_model_f16_values.safetensors",
                      {k: (v.float() if v.is_floating_point() else v) for k, v in half.items()})
    write_safetensors(f"{directory}/torch_io.safetensors", {"input": x, "output": y})
    return 0


if __name__ == "__main__":
    sys.exit(main())
