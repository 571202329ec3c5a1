#!/usr/bin/env python3
"""Loads a checkpoint written by lazynn into the same PyTorch model and compares outputs, then
writes a PyTorch checkpoint for lazynn to load. safetensors files are read and written with
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
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        array = t.detach().contiguous().numpy()
        blob = array.tobytes()
        header[name] = {"dtype": CODES[array.dtype.type], "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
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

    torch.manual_seed(5)
    theirs = make_model()
    theirs(torch.randn(8, 1, 10, 10))   # move the running statistics
    theirs.eval()
    x = torch.randn(2, 1, 10, 10)
    with torch.no_grad():
        y = theirs(x)
    write_safetensors(f"{directory}/torch_model.safetensors", theirs.state_dict())
    write_safetensors(f"{directory}/torch_io.safetensors", {"input": x, "output": y})
    return 0


if __name__ == "__main__":
    sys.exit(main())
