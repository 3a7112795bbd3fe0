"""Shared helpers for the parity case files (cases_*.py)."""
import torch

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


