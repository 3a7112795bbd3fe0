"""PyTorch reference for the engine's parity suite.

Each case builds its inputs from a fixed seed, computes outputs, then back-propagates
sum(out * w) for every floating output (w random, stored too) and records the input gradients.
Everything goes into one safetensors file as <case>/in/<name>, <case>/out/<name>, <case>/grad/<name>;
the C# tests load the inputs, run the same case with our engine and compare.

Cases live in cases_*.py (one file per area), registered with parity_lib.case; the C# side mirrors
each file in ParityCases.*.cs.

Usage: /usr/bin/python3 parity.py OUT.safetensors
"""
import glob
import importlib
import os
import sys

import torch

import parity_lib
import safetensors_io

def hash_name(name):
    # A seed per case, so that adding a case leaves the others' inputs unchanged.
    return sum((k + 1) * ord(ch) for k, ch in enumerate(name)) % 100003


def main(path):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    for f in sorted(glob.glob(os.path.join(here, "cases_*.py"))):
        importlib.import_module(os.path.basename(f)[:-3])
    out, meta = {}, {}
    for name, (fn, atol, rtol) in parity_lib.CASES.items():
        torch.manual_seed(hash_name(name))
        c = parity_lib.Inputs()
        results = fn(c)
        for k, t in c.items.items():
            out[f"{name}/in/{k}"] = t.detach()
        loss = None
        for k, t in results.items():
            out[f"{name}/out/{k}"] = t.detach()
            if t.requires_grad and t.dtype.is_floating_point:
                w = torch.randn(t.shape, dtype=t.dtype)
                out[f"{name}/w/{k}"] = w
                term = (t * w).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            loss.backward()
            for k in c.grads:
                g = c.items[k].grad
                if g is not None:
                    out[f"{name}/grad/{k}"] = g
        meta[f"{name}/grad_inputs"] = ",".join(sorted(c.grads))
        meta[f"{name}/atol"] = repr(atol)
        meta[f"{name}/rtol"] = repr(rtol)
    safetensors_io.save(path, out, meta)


if __name__ == "__main__":
    main(sys.argv[1])
