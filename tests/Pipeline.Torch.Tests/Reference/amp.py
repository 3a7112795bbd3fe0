"""PyTorch reference for AutocastTests.cs: a float32 matmul inside and outside torch.autocast on the CPU.

Usage: /usr/bin/python3 amp.py OUT.safetensors
"""
import sys

import torch

import safetensors_io


def main(path):
    torch.set_num_threads(1)
    out = {}
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(4, 6, generator=g), torch.randn(6, 3, generator=g)
    out["amp/a"], out["amp/b"] = a, b
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out["amp/inside"] = a @ b
    out["amp/outside"] = a @ b
    safetensors_io.save(path, out)


if __name__ == "__main__":
    main(sys.argv[1])
