"""PyTorch's CPU generator after torch.manual_seed, for RngTests (usage: rng_reference.py OUT)."""
import sys

import torch

import safetensors_io

if __name__ == "__main__":
    out = {}
    torch.manual_seed(7)
    out["randn"] = torch.randn(3, 4)
    out["rand"] = torch.rand(2, 5)
    out["randint"] = torch.randint(0, 10, (6,))
    out["randperm"] = torch.randperm(8)
    torch.manual_seed(123)
    out["randn_large"] = torch.randn(40, 7)
    safetensors_io.save(sys.argv[1], out)
