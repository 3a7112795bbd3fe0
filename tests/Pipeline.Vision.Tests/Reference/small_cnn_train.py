"""PyTorch reference for SmallCnnTrainingParityTests: 50 training steps of the small CNN per optimizer.

Writes:
  init/<key>             the state_dict every run starts from (torch.manual_seed(1), default initialisation)
  data/x/<i>             batch i of 16 1x28x28 float32 inputs (BATCHES batches, cycled over the steps)
  data/labels/<i>        their int64 classes
  <opt>/<dtype>/<key>    state_dict after STEPS steps (parameters, running_mean/var, num_batches_tracked)
  <opt>/<dtype>/losses   the loss of every step, as float64 (STEPS values; the last is the final loss)
for <opt> in CONFIGS and <dtype> in float32, float64 (model and inputs converted with .to(dtype) after loading
init; the float32 values convert exactly); metadata: steps, batches, configs.

Each step: train mode, zero_grad, cross_entropy(model(x), labels), backward, step.

Why float64 too: in float32 this training is not reproducible even by PyTorch itself. Running this same script
with 2 threads instead of 1 moves the final state by up to 2.9e-3 (SGD: rounding differences grow ~1000x from
step 26 on) and 1.7e-2 (AdamW: the conv biases feeding a BatchNorm have an analytically zero gradient, so the
computed one is rounding noise of ~1e-9, comparable to eps, and Adam's normalised step moves them by up to lr
in a direction that noise picks, from step 1). In float64 the 1- and 2-thread runs agree bit for bit.

Usage: /usr/bin/python3 small_cnn_train.py OUT.safetensors
"""
import sys

import torch
import torch.nn.functional as F

import safetensors_io
from small_cnn import SmallCnn

STEPS = 50
BATCHES = 4
BATCH = 16

CONFIGS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.05),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def main(path):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    init = {k: v.clone() for k, v in SmallCnn().state_dict().items()}
    g = torch.Generator().manual_seed(20240614)
    xs = [torch.randn(BATCH, 1, 28, 28, generator=g) for _ in range(BATCHES)]
    labels = [torch.randint(0, 10, (BATCH,), generator=g) for _ in range(BATCHES)]

    out = {f"init/{k}": v for k, v in init.items()}
    for i in range(BATCHES):
        out[f"data/x/{i}"], out[f"data/labels/{i}"] = xs[i], labels[i]

    for name, build in CONFIGS.items():
        for dname, dtype in DTYPES.items():
            model = SmallCnn()
            model.load_state_dict(init)
            model.to(dtype)
            model.train()
            opt = build(model.parameters())
            losses = []
            for step in range(STEPS):
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xs[step % BATCHES].to(dtype)), labels[step % BATCHES])
                loss.backward()
                opt.step()
                losses.append(loss.item())
            for k, v in model.state_dict().items():
                out[f"{name}/{dname}/{k}"] = v.clone()
            out[f"{name}/{dname}/losses"] = torch.tensor(losses, dtype=torch.float64)

    meta = {"steps": STEPS, "batches": BATCHES, "configs": ",".join(CONFIGS)}
    safetensors_io.save(path, out, meta)


if __name__ == "__main__":
    main(sys.argv[1])
