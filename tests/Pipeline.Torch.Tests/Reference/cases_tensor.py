"""Parity cases: tensor creation, arithmetic, shape ops, comparisons, reductions."""
import torch
import torch.nn.functional as F

from parity_lib import case, randn


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


