"""PyTorch reference for SmallCnnParityTests and ModuleTests.

Writes, for the small CNN (tests/Pipeline.Vision.Tests/Support/ParitySmallCnn.cs):
  init/<key>    state_dict right after construction with torch.manual_seed(0) (default initialisation)
  state/<key>   the state the test loads: init with batch-norm affine parameters and running stats perturbed
  x, labels     a batch of 8 1x28x28 inputs and their classes
  logits, loss  train-mode forward and cross entropy; grad/<name> the parameter gradients after backward
  after/<key>   state_dict after that forward (running stats and num_batches_tracked updated)
  logits_eval   eval-mode forward after it
and, as metadata, the names PyTorch gives (named_parameters, named_buffers, named_modules, state_dict keys)
for the small CNN and for a nested model (Nested in ModuleTests.cs).

Usage: /usr/bin/python3 small_cnn.py OUT.safetensors
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_io


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x))


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), nn.Linear(3, 2)])
        self.head = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.GroupNorm(1, 2), nn.BatchNorm2d(2))
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("step", torch.zeros(1), persistent=False)
        self.register_buffer("total", torch.zeros(2))


def names(model, prefix):
    return {
        f"{prefix}/named_parameters": ",".join(n for n, _ in model.named_parameters()),
        f"{prefix}/named_buffers": ",".join(n for n, _ in model.named_buffers()),
        f"{prefix}/named_modules": ",".join(n for n, _ in model.named_modules()),
        f"{prefix}/state_dict": ",".join(model.state_dict().keys()),
    }


def main(path):
    out, meta = {}, {}
    torch.manual_seed(0)
    model = SmallCnn()
    for k, v in model.state_dict().items():
        out[f"init/{k}"] = v.clone()
    with torch.no_grad():
        for bn in (model.features[1], model.features[5]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.2)
            bn.running_mean.normal_(0, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
            bn.num_batches_tracked.fill_(3)
    for k, v in model.state_dict().items():
        out[f"state/{k}"] = v.clone()

    x = torch.randn(8, 1, 28, 28)
    labels = torch.randint(0, 10, (8,))
    out["x"], out["labels"] = x, labels
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out["logits"], out["loss"] = logits.detach(), loss.detach()
    for n, p in model.named_parameters():
        out[f"grad/{n}"] = p.grad
    for k, v in model.state_dict().items():
        out[f"after/{k}"] = v.clone()
    model.eval()
    with torch.no_grad():
        out["logits_eval"] = model(x)

    meta.update(names(model, "small_cnn"))
    meta.update(names(Nested(), "nested"))
    safetensors_io.save(path, out, meta)


if __name__ == "__main__":
    main(sys.argv[1])
