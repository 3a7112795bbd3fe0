"""PyTorch reference for the engine's parity suite.

Each case builds its inputs from a fixed seed, computes outputs, then back-propagates
sum(out * w) for every floating output (w random, stored too) and records the input gradients.
Everything goes into one safetensors file as <case>/in/<name>, <case>/out/<name>, <case>/grad/<name>;
the C# tests load the inputs, run the same case with our engine and compare.

Usage: /usr/bin/python3 parity.py OUT.safetensors
"""
import sys

import torch
import torch.nn.functional as F

import safetensors_io

CASES = {}


def case(name, atol=1e-5, rtol=1e-4):
    def register(fn):
        CASES[name] = (fn, atol, rtol)
        return fn
    return register


class Inputs:
    def __init__(self):
        self.items = {}
        self.grads = set()

    def add(self, name, tensor, grad=False):
        t = tensor.clone()
        if grad:
            t.requires_grad_(True)
            self.grads.add(name)
        self.items[name] = t
        return t


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# ---------------------------------------------------------------- cases
# Keep each case small; add one per op, forward and gradient. The C# side (ParityCases.cs) mirrors every name.

@case("add_broadcast")
def _(c):
    a = c.add("a", randn(3, 4), grad=True)
    b = c.add("b", randn(4), grad=True)
    return {"out": a + b}


@case("sub_mul_div_scalar")
def _(c):
    a = c.add("a", randn(2, 5), grad=True)
    b = c.add("b", randn(2, 5).abs() + 0.5, grad=True)
    return {"out": (a - b) * 3.0 / b + 2.0 - 1.5 / b}


@case("matmul")
def _(c):
    a = c.add("a", randn(4, 6), grad=True)
    b = c.add("b", randn(6, 3), grad=True)
    return {"out": a @ b}


@case("unary_math")
def _(c):
    a = c.add("a", randn(3, 4).abs() + 0.1, grad=True)
    return {"exp": a.exp(), "log": a.log(), "sqrt": a.sqrt(), "rsqrt": a.rsqrt(), "sigmoid": a.sigmoid(),
            "tanh": a.tanh(), "abs": (a - 0.5).abs(), "neg": -a, "pow": a.pow(2.5), "relu": (a - 0.6).relu(),
            "clamp": a.clamp(0.3, 0.9)}


@case("reductions")
def _(c):
    a = c.add("a", randn(3, 4, 5), grad=True)
    return {"sum": a.sum(), "sum_dims": a.sum(dim=(0, 2)), "mean": a.mean(), "mean_keep": a.mean(dim=1, keepdim=True)}


@case("shape_ops")
def _(c):
    a = c.add("a", randn(2, 3, 4), grad=True)
    b = c.add("b", randn(2, 3, 4), grad=True)
    return {"reshape": a.reshape(6, 4) * 2, "permute": a.permute(2, 0, 1) * 3, "transpose": a.transpose(0, 2).contiguous(),
            "flatten": a.flatten(1), "cat": torch.cat([a, b], 1), "stack": torch.stack([a, b], 0),
            "unsqueeze": a.unsqueeze(1) * b.unsqueeze(1), "squeeze": a.unsqueeze(0).squeeze(0) + 1}


@case("comparisons")
def _(c):
    a = c.add("a", randn(4, 4))
    b = c.add("b", randn(4, 4))
    return {"lt": a < b, "ge_scalar": a >= 0.1, "eq": a.eq(a), "and": (a > 0) & (b > 0), "max": torch.maximum(a, b)}


def main(path):
    torch.manual_seed(1234)
    out, meta = {}, {}
    for name, (fn, atol, rtol) in CASES.items():
        c = Inputs()
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
