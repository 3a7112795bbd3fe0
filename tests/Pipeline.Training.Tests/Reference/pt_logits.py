"""Loads a .pt state dict that TorchSharp.PyBridge wrote from our SmallCnn into the same architecture in PyTorch.

usage: pt_logits.py MODEL.pt IO.safetensors IN_CHANNELS CLASSES WIDTH
IO.safetensors holds `x` (the input) and `logits` (ours, eval mode). Loads strictly (every name ours), runs the input
in eval mode and prints `max_abs_diff=<d>` between PyTorch's logits and ours.
"""
import sys

import torch
from torch import nn

import safetensors_io


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class SmallCnn(nn.Module):
    """Pipeline.Vision.Models.SmallCnn: features.{i}, head.1 (head.0 is the dropout)."""

    def __init__(self, cin, classes, width):
        super().__init__()
        wide = 2 * width
        self.features = nn.Sequential(
            conv_block(cin, width), conv_block(width, width), nn.MaxPool2d(2),
            conv_block(width, wide), conv_block(wide, wide), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(wide, classes))

    def forward(self, x):
        return self.head(self.features(x))


def main():
    pt, io, cin, classes, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    tensors, _ = safetensors_io.load(io)
    model = SmallCnn(cin, classes, width)
    model.load_state_dict(torch.load(pt), strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(tensors["x"])
    print(f"max_abs_diff={(logits - tensors['logits']).abs().max().item()!r}")


if __name__ == "__main__":
    main()
