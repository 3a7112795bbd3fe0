"""torchvision reference for ResNetParityTests.

Builds torchvision.models.<arch>() with torch.manual_seed(0) (random init, 1000 classes), gives its batch norms
realistic running statistics (cumulative averages over three random batches) and perturbed affine parameters
(weights in [0.8, 1.2], biases N(0, 0.1)), and
writes into OUT_DIR:
  weights.safetensors    model.state_dict() exactly as torchvision names it (what the C# model loads, no renaming)
  reference.safetensors  x (2x3x64x64), labels; logits_eval (eval mode, no grad); then in train mode: logits_train,
                         loss (cross entropy), grad/x and grad/<name> for a few parameters, after/<name> for a few
                         buffers after that forward; metadata: the names torchvision gives (parameters, buffers,
                         modules, state_dict keys), comma-separated.

Usage: /usr/bin/python3 torchvision_resnet.py OUT_DIR ARCH THREADS
THREADS: the caller's intra-op thread count. libtorch picks a convolution algorithm partly by it (oneDNN for 1x1
convolutions only with several threads), and the algorithms round differently: the same count gives the same choice.
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

import safetensors_io

GRADS = {
    "resnet18": ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                 "layer4.1.conv2.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"],
    "resnet50": ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
                 "layer3.5.conv2.weight", "layer4.2.conv3.weight", "layer4.2.bn3.weight", "fc.weight", "fc.bias"],
}
BUFFERS = ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "layer4.1.bn2.running_var"]


def main(out_dir, arch):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
        for m in bns:
            m.momentum = 0.1
            m.weight.uniform_(0.8, 1.2)  # wider makes eval-mode logits of resnet50 run to the hundreds
            m.bias.normal_(0, 0.1)
    safetensors_io.save(os.path.join(out_dir, "weights.safetensors"), model.state_dict())

    out = {}
    x = torch.randn(2, 3, 64, 64)
    labels = torch.randint(0, 1000, (2,))
    out["x"], out["labels"] = x.clone(), labels
    model.eval()
    with torch.no_grad():
        out["logits_eval"] = model(x)
    model.train()
    x.requires_grad_(True)
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out["logits_train"], out["loss"], out["grad/x"] = logits.detach(), loss.detach(), x.grad
    params = dict(model.named_parameters())
    for name in GRADS[arch]:
        out[f"grad/{name}"] = params[name].grad
    buffers = dict(model.named_buffers())
    for name in BUFFERS:
        out[f"after/{name}"] = buffers[name].clone()
    meta = {
        "named_parameters": ",".join(n for n, _ in model.named_parameters()),
        "named_buffers": ",".join(n for n, _ in model.named_buffers()),
        "named_modules": ",".join(n for n, _ in model.named_modules()),
        "state_dict": ",".join(model.state_dict().keys()),
        "grads": ",".join(GRADS[arch]),
        "buffers": ",".join(BUFFERS),
    }
    safetensors_io.save(os.path.join(out_dir, "reference.safetensors"), out, meta)


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[3]))
    main(sys.argv[1], sys.argv[2])
