"""torchvision's FCOS as the peer of `bench detection --measure-steps`: the same detector shape (ResNet body, FPN over
layer2..layer4 with P6/P7, head towers of N conv/GroupNorm/ReLU layers), batch and input size, SGD with momentum,
trained on random images with the set's average number of boxes; prints step_seconds=."""
import sys
import time

import torch
from torchvision.models import resnet18, resnet34, resnet50
from torchvision.models.detection import FCOS
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOSHead
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


def main():
    backbone, fpn, head_convs, classes, batch, height, width, boxes, steps, threads = sys.argv[1:11]
    fpn, head_convs, classes, batch, height, width, steps, threads = map(int, (fpn, head_convs, classes, batch, height, width, steps, threads))
    boxes = float(boxes)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    body = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}[backbone]()
    stages = [128, 256, 512] if backbone != "resnet50" else [512, 1024, 2048]
    fpn_backbone = BackboneWithFPN(body, {"layer2": "0", "layer3": "1", "layer4": "2"}, stages, fpn, extra_blocks=LastLevelP6P7(fpn, fpn))
    # The images come at the training size: the transform neither resizes (min/max size = the input) nor changes them.
    model = FCOS(fpn_backbone, num_classes=classes, min_size=min(height, width), max_size=max(height, width),
                 image_mean=[0.0] * 3, image_std=[1.0] * 3, head=FCOSHead(fpn, 1, classes, num_convs=head_convs))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(3, height, width, generator=generator) for _ in range(batch)]
    targets = []
    for k in range(batch):
        count = max(1, int(boxes + (k % 2)))  # the set's average, alternating around it
        xy = torch.rand(count, 2, generator=generator) * torch.tensor([width * 0.6, height * 0.6])
        size = 8 + torch.rand(count, 2, generator=generator) * torch.tensor([width * 0.35, height * 0.35])
        targets.append({"boxes": torch.cat([xy, xy + size], 1), "labels": torch.randint(1, classes, (count,), generator=generator)})

    def step():
        optimizer.zero_grad(set_to_none=True)
        losses = model(images, targets)
        sum(losses.values()).backward()
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    print(f"step_seconds={(time.perf_counter() - start) / steps:.4f}")


if __name__ == "__main__":
    main()
