#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a small but realistic model folder: config.json, tokenizer.json, a README.md model card
and a model.safetensors whose tensors add up to about --size-mb megabytes."""
import argparse
import json
import os
import struct


def write_safetensors(path, size_bytes):
    # Equal float32 matrices of 1024 columns until the budget is used.
    cols = 1024
    rows = 256
    tensor_bytes = rows * cols * 4
    count = max(1, size_bytes // tensor_bytes)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in range(count):
        header[f"layers.{i}.weight"] = {
            "dtype": "F32",
            "shape": [rows, cols],
            "data_offsets": [offset, offset + tensor_bytes],
        }
        offset += tensor_bytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        chunk = 4 << 20
        left = offset
        while left > 0:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--size-mb", type=int, default=64)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    layers = write_safetensors(os.path.join(args.out_dir, "model.safetensors"),
                               args.size_mb << 20)
    config = {"architectures": ["DemoModel"], "hidden_size": 1024, "num_hidden_layers": layers,
              "model_type": "demo", "torch_dtype": "float32"}
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    vocab = {f"tok{i}": i for i in range(2000)}
    with open(os.path.join(args.out_dir, "tokenizer.json"), "w") as f:
        json.dump({"version": "1.0", "model": {"type": "WordLevel", "vocab": vocab}}, f)
    with open(os.path.join(args.out_dir, "README.md"), "w") as f:
        f.write("---\nlicense: apache-2.0\nlibrary_name: demo\ntags:\n- demo\n---\n\n"
                "# Demo model\n\nRandom float32 weights in safetensors, made to try hf-mount "
                "and hf-hubd.\n")


if __name__ == "__main__":
    main()
