"""PyTorch reference for the optimizer and gradient clipping tests (OptimizerTests.cs).

Parameters W (8x5), b (5), M (3x3) and U (4, never in the loss, so it never gets a gradient) and a data
batch come from a fixed seed; each optimizer config runs 50 steps of the same smooth loss and records the
final parameters and group learning rates as <config>/<param> and <config>/lr.

Usage: /usr/bin/python3 optim.py OUT.safetensors
"""
import sys

import torch

import safetensors_io

STEPS = 50
NAMES = ["W", "b", "M", "U"]


def initial():
    g = torch.Generator().manual_seed(20240613)
    return {
        "W": torch.randn(8, 5, generator=g) * 0.5,
        "b": torch.randn(5, generator=g) * 0.1,
        "M": torch.randn(3, 3, generator=g) * 0.5,
        "U": torch.randn(4, generator=g),
    }, torch.randn(16, 8, generator=g), (torch.randn(16, 5, generator=g) * 0.8).tanh()


def loss_fn(p, x, y):
    fit = ((x @ p["W"] + p["b"]).tanh() - y).pow(2).mean()
    return fit + 0.1 * (p["M"] @ p["M"].t() - torch.eye(3)).pow(2).mean()


# name -> (build(params) -> optimizer, negate loss, halve every group's lr after step 25)
def configs():
    O = torch.optim
    return {
        "sgd_plain": (lambda p: O.SGD(p.values(), lr=0.1), False, False),
        "sgd_nesterov": (lambda p: O.SGD(p.values(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, dampening=0), False, False),
        "sgd_dampening_maximize": (lambda p: O.SGD(p.values(), lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02, maximize=True), True, False),
        "adamw_default": (lambda p: O.AdamW(p.values()), False, False),
        "adamw_amsgrad": (lambda p: O.AdamW(p.values(), lr=0.01, amsgrad=True, weight_decay=0.1), False, False),
        "adamw_maximize": (lambda p: O.AdamW(p.values(), lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True), True, False),
        "adam": (lambda p: O.Adam(p.values(), lr=0.01, weight_decay=0.01), False, False),
        "adam_amsgrad": (lambda p: O.Adam(p.values(), lr=0.02, amsgrad=True), False, False),
        "sgd_groups": (lambda p: O.SGD([{"params": [p["W"], p["b"]]},
                                         {"params": [p["M"], p["U"]], "lr": 0.01, "weight_decay": 0.1}],
                                        lr=0.1, momentum=0.9), False, True),
        "adamw_groups": (lambda p: O.AdamW([{"params": [p["W"]]},
                                             {"params": [p["b"], p["M"], p["U"]], "lr": 0.03, "weight_decay": 0.0}],
                                            lr=0.01), False, True),
    }


def main(path):
    torch.set_num_threads(1)
    init, x, y = initial()
    out = {f"init/{k}": v for k, v in init.items()}
    out["data/x"], out["data/y"] = x, y
    names = []
    for name, (build, negate, halve) in configs().items():
        names.append(name)
        p = {k: v.clone().requires_grad_() for k, v in init.items()}
        opt = build(p)
        for step in range(STEPS):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(p, x, y)
            (-loss if negate else loss).backward()
            opt.step()
            if halve and step == STEPS // 2 - 1:
                for g in opt.param_groups:
                    g["lr"] *= 0.5
        for k in NAMES:
            out[f"{name}/{k}"] = p[k].detach()
        out[f"{name}/lr"] = torch.tensor([g["lr"] for g in opt.param_groups], dtype=torch.float64)

    # Gradient clipping: the loss's gradients at the initial point (U has none), clipped several ways.
    p = {k: v.clone().requires_grad_() for k, v in init.items()}
    loss_fn(p, x, y).backward()
    for k in ["W", "b", "M"]:
        out[f"clip/grad/{k}"] = p[k].grad.clone()
    clips = {"l2": (0.05, 2.0), "inf": (0.02, float("inf")), "l1": (0.1, 1.0), "l2_unclipped": (100.0, 2.0)}
    for case, (max_norm, norm_type) in clips.items():
        q = {k: v.detach().clone().requires_grad_() for k, v in init.items()}
        for k in ["W", "b", "M"]:
            q[k].grad = out[f"clip/grad/{k}"].clone()
        total = torch.nn.utils.clip_grad_norm_(q.values(), max_norm, norm_type)
        out[f"clip/{case}/total"] = total.double().reshape(1)
        for k in ["W", "b", "M"]:
            out[f"clip/{case}/{k}"] = q[k].grad
    q = {k: v.detach().clone().requires_grad_() for k, v in init.items()}
    for k in ["W", "b", "M"]:
        q[k].grad = out[f"clip/grad/{k}"].clone()
    torch.nn.utils.clip_grad_value_(q.values(), 0.01)
    for k in ["W", "b", "M"]:
        out[f"clip/value/{k}"] = q[k].grad

    meta = {"configs": ",".join(names), "clips": ",".join(clips)}
    safetensors_io.save(path, out, meta)


if __name__ == "__main__":
    main(sys.argv[1])
