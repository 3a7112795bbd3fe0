"""Parity cases: indexing, slicing, gather/scatter, masks, splitting."""
import torch
import torch.nn.functional as F

from parity_lib import case, randn


@case("select_narrow_slice")
def _(c):
    a = c.add("a", randn(4, 5, 6), grad=True)
    return {"select": a.select(1, 2), "narrow": a.narrow(2, 1, 3), "slice_step": a[:, 1:5:2],
            "slice_open": a[..., 3:], "slice_negative": a[:, -3:-1]}


@case("indexer")
def _(c):
    a = c.add("a", randn(4, 5, 6), grad=True)
    idx = c.add("idx", torch.tensor([3, 0, 3]))
    return {"int_from_end": a[0, -1], "ranges": a[:, 1:3], "ellipsis": a[..., 2], "none": a[None, 1, :, None],
            "step": a[::2, 1:, -2:], "to_end": a[:-1, :2], "mask": a[a > 0.5], "long_index": a[idx, :, 1],
            "mixed": a[1, idx], "all": a[:]}


@case("index_put")
def _(c):
    a = c.add("a", randn(4, 5), grad=True)
    v = c.add("v", randn(2), grad=True)
    w = c.add("w", randn(4), grad=True)
    y = a * 1
    y[1, 1:3] = v
    y[:, -1] = 0.5
    y[..., 0] = w
    z = a * 2
    z[z > 0] = 0.0
    return {"y": y, "z": z}


@case("gather_scatter")
def _(c):
    a = c.add("a", randn(3, 5), grad=True)
    src = c.add("src", randn(3, 2), grad=True)
    idx = c.add("idx", torch.randint(0, 5, (3, 2)))
    unique = c.add("unique", torch.stack([torch.randperm(5)[:2] for _ in range(3)]))
    sel = c.add("sel", torch.tensor([4, 0, 2, 2]))
    y = a * 1
    y.scatter_(1, unique, src)
    z = a * 1
    z.scatter_add_(1, idx, src)
    return {"index_select": a.index_select(1, sel), "gather": a.gather(1, idx), "scatter": a.scatter(1, unique, src),
            "scatter_value": a.scatter(1, unique, 2.5), "scatter_add": a.scatter_add(1, idx, src),
            "scatter_": y, "scatter_add_": z, "static": torch.gather(a, 0, idx.remainder(3))}


@case("masks_where")
def _(c):
    a = c.add("a", randn(4, 5), grad=True)
    b = c.add("b", randn(4, 5), grad=True)
    y = a * 2
    y.masked_fill_(b < 0, 3.0)
    return {"masked_fill": a.masked_fill(a > 0, -1.0), "masked_fill_": y, "where": torch.where(a > b, a, b),
            "where_scalar": torch.where(a > 0, a, 0.0), "where_scalar_first": torch.where(a > 0, 1.0, b),
            "where_method": a.where(b > 0, b), "masked_select": a.masked_select(b > 0), "nonzero": (a > 0).nonzero()}


@case("expand_repeat_flip_roll")
def _(c):
    a = c.add("a", randn(3, 1, 4), grad=True)
    b = c.add("b", randn(4, 5), grad=True)
    t = c.add("t", randn(2, 3, 5, 4))
    return {"expand": a.expand(3, 5, 4), "expand_new": a.expand(2, 3, -1, 4), "expand_as": a.expand_as(t),
            "repeat": a.repeat(2, 3, 1), "flip": a.flip(0, 2), "roll": a.roll(1, 0), "roll_dims": a.roll((2, -1), (0, 2)),
            "roll_flat": a.roll(5), "tril": b.tril(), "triu": b.triu(1), "tril_neg": torch.tril(b, -1)}


@case("one_hot")
def _(c):
    labels = c.add("labels", torch.randint(0, 5, (6,)))
    labels[2] = 4
    return {"fixed": F.one_hot(labels, 7), "inferred": F.one_hot(labels)}


@case("split_chunk_unbind")
def _(c):
    a = c.add("a", randn(7, 4), grad=True)
    out = {}
    for k, t in enumerate(a.split(3)):
        out[f"split{k}"] = t
    for k, t in enumerate(torch.split(a, [2, 5])):
        out[f"sizes{k}"] = t * 2
    for k, t in enumerate(torch.chunk(a, 3, 1)):
        out[f"chunk{k}"] = t * 3
    for k, t in enumerate(a.unbind(1)):
        out[f"unbind{k}"] = t + 1
    return out
