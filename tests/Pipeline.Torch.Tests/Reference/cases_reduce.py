"""Parity cases: reductions, scans, softmax, sorting."""
import torch

from parity_lib import case, randn


@case("max_min")
def _(c):
    a = c.add("a", randn(4, 5), grad=True)
    b = c.add("b", randn(4, 5), grad=True)
    mx = a.max(1)
    mn = torch.min(a, 0, keepdim=True)
    return {"max": a.max(), "min": torch.min(a), "max_values": mx.values, "max_indices": mx.indices,
            "min_values": mn.values, "min_indices": mn.indices, "argmax": a.argmax(), "argmax_dim": a.argmax(1, keepdim=True),
            "argmin": torch.argmin(a), "argmin_dim": a.argmin(0), "elementwise": torch.max(a, b), "min_other": a.min(b)}


@case("amax_amin")
def _(c):
    a = c.add("a", randn(3, 4, 5), grad=True)
    return {"amax": a.amax(1), "amin": a.amin((0, 1), keepdim=True), "amax_all": a.amax(), "static": torch.amin(a, 2)}


@case("prod")
def _(c):
    a = c.add("a", randn(3, 4) * 0.5 + 1, grad=True)
    return {"all": a.prod(), "dim": a.prod(1), "keep": a.prod(0, keepdim=True), "double": a.prod(1, dtype=torch.float64)}


@case("std_var_norm")
def _(c):
    a = c.add("a", randn(3, 4, 5), grad=True)
    return {"std": a.std(), "std_biased": a.std(unbiased=False), "std_dims": a.std((0, 2), unbiased=False),
            "std_keep": a.std(1, keepdim=True), "var": a.var(), "var_dims": torch.var(a, (0, 1)), "var_keep": a.var(2, unbiased=False, keepdim=True),
            "norm": a.norm(), "norm1": a.norm(1, dim=1), "norm_inf": a.norm(float("inf"), dim=(0, 2)),
            "norm_keep": a.norm(2, dim=1, keepdim=True), "norm3": a.norm(3),
            "norm_all_keep": torch.norm(a, 1.5, dim=(0, 1, 2), keepdim=True)}


@case("logsumexp_cumsum")
def _(c):
    a = c.add("a", randn(3, 4, 5), grad=True)
    return {"logsumexp": a.logsumexp(1), "logsumexp_dims": torch.logsumexp(a, (0, 2), keepdim=True),
            "cumsum": a.cumsum(1), "cumsum_double": a.cumsum(0, dtype=torch.float64), "cumprod": a.cumprod(2)}


@case("any_all")
def _(c):
    b = c.add("b", randn(3, 4) > 0)
    i = c.add("i", torch.tensor([[0, 2, 0], [1, 1, 3]]))
    return {"any": b.any(), "all": b.all(), "any_dim": b.any(1), "all_keep": b.all(0, keepdim=True),
            "int_any": i.any(1), "int_all": torch.all(i, 0)}


@case("softmax")
def _(c):
    a = c.add("a", randn(3, 5) * 3, grad=True)
    return {"softmax": a.softmax(1), "log_softmax": a.log_softmax(0), "static": torch.softmax(a, -1),
            "static_log": torch.log_softmax(a, 1), "double": a.softmax(1, dtype=torch.float64)}


@case("topk_sort")
def _(c):
    a = c.add("a", randn(4, 6), grad=True)
    ties = c.add("ties", torch.randint(0, 3, (10,)))
    t1 = a.topk(3)
    t2 = torch.topk(a, 2, dim=0, largest=False)
    s1 = a.sort(1)
    s2 = torch.sort(a, 0, descending=True)
    s3 = torch.sort(ties, stable=True)
    return {"topk_values": t1.values, "topk_indices": t1.indices, "smallest_values": t2.values, "smallest_indices": t2.indices,
            "sort_values": s1.values, "sort_indices": s1.indices, "desc_values": s2.values, "desc_indices": s2.indices,
            "stable_values": s3.values, "stable_indices": s3.indices, "argsort": a.argsort(1, descending=True),
            "argsort_static": torch.argsort(a, 0)}
