# Learning-rate sequences of PyTorch's schedulers, for the schedule parity tests. Prints one JSON object:
# each case is a list of per-step lists (one lr per parameter group), the first entry before any step.
# Cosine runs end at T_max (past it PyTorch rises again; a training run never gets there).
import json
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, MultiStepLR, ReduceLROnPlateau, SequentialLR


def optimizer():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)


def run(make, steps):
    opt = optimizer()
    sched = make(opt)
    lrs = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return lrs


cases = {
    "warmup_cosine": run(lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, total_iters=5),
                                                    CosineAnnealingLR(o, T_max=15, eta_min=0.001)], milestones=[5]), 20),
    "warmup_multistep": run(lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.25, total_iters=4),
                                                       MultiStepLR(o, milestones=[6, 10], gamma=0.5)], milestones=[4]), 20),
    "cosine": run(lambda o: CosineAnnealingLR(o, T_max=10), 10),
}

metrics = [0.5, 0.6, 0.6, 0.59, 0.6, 0.61, 0.61, 0.7, 0.7, 0.7, 0.7, 0.7]
opt = optimizer()
plateau = ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1, threshold=1e-4, cooldown=1, min_lr=0.004)
lrs = []
for m in metrics:
    plateau.step(m)
    lrs.append([g["lr"] for g in opt.param_groups])
cases["plateau"] = lrs
cases["plateau_metrics"] = [[m] for m in metrics]
print(json.dumps(cases))
