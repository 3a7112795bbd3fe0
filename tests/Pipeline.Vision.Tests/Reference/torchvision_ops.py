"""torchvision.ops reference for BoxOpsParityTests and DetectionLossParityTests.

Writes OUT_DIR/ops.safetensors: inputs (in/...), outputs (out/...), for differentiable outputs a random weight
w/<out> and the gradients of sum(out * w) with respect to each input (grad/<out>/<input>).
Boxes come from a coarse grid (so that duplicates, equal scores and zero-area boxes occur) and from continuous draws.

Usage: /usr/bin/python3 torchvision_ops.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn.functional as F
from torchvision import ops
from torchvision.ops import boxes as boxes_ops

import safetensors_io

OUT = {}


def grid_boxes(n, size=32, degenerate=True):
    xy = torch.randint(0, size, (n, 2)).float()
    wh = torch.randint(1 if not degenerate else 0, size // 2, (n, 2)).float()
    return torch.cat([xy, xy + wh], 1)


def random_boxes(n, size=100.0):
    xy = torch.rand(n, 2) * size
    wh = torch.rand(n, 2) * size / 3 + 0.5
    return torch.cat([xy, xy + wh], 1)


def put(name, value):
    OUT[name] = value.detach().clone() if torch.is_tensor(value) else torch.tensor(value)


def with_grads(name, fn, **inputs):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    put(f"out/{name}", out)
    w = torch.randn(out.shape, dtype=out.dtype)
    put(f"w/{name}", w)
    grads = torch.autograd.grad((out * w).sum(), list(leaves.values()), allow_unused=True)
    for k, g in zip(leaves, grads):
        if g is not None:
            put(f"grad/{name}/{k}", g)


def main(out_dir):
    torch.manual_seed(0)
    # IoU and GIoU, with degenerate (zero-area) boxes and duplicates: 0/0 gives NaN as in torchvision.
    a, b = grid_boxes(12), grid_boxes(9)
    b[3] = a[5]
    a[0] = torch.tensor([4.0, 4.0, 4.0, 9.0])
    a[1] = torch.tensor([3.0, 3.0, 3.0, 3.0])
    put("in/iou_a", a)
    put("in/iou_b", b)
    put("out/box_iou", ops.box_iou(a, b))
    put("out/generalized_box_iou", ops.generalized_box_iou(a, b))
    put("out/box_area", ops.box_area(a))
    c, d = random_boxes(6), random_boxes(5)
    put("in/giou_c", c)
    put("in/giou_d", d)
    with_grads("box_iou_grad", ops.box_iou, boxes1=c, boxes2=d)
    with_grads("generalized_box_iou_grad", ops.generalized_box_iou, boxes1=c, boxes2=d)
    c64 = random_boxes(7).double()
    put("in/iou64", c64)
    put("out/box_iou64", ops.box_iou(c64, c64.flip(0)))

    # Conversions between every pair of formats.
    e = random_boxes(10)
    put("in/convert", e)
    formats = ["xyxy", "xywh", "cxcywh"]
    for f in formats:
        for g in formats:
            put(f"out/convert_{f}_{g}", ops.box_convert(e, f, g))
    put("out/clip", ops.clip_boxes_to_image(e - 20, (60, 45)))

    # NMS: grid boxes with tied scores (ties keep the lower index first), continuous boxes, several thresholds.
    for k, (n, grid) in enumerate([(150, True), (300, False), (40, True)]):
        boxes = grid_boxes(n) if grid else random_boxes(n)
        scores = (torch.randint(0, 8, (n,)).float() / 8) if grid else torch.rand(n)
        classes = torch.randint(0, 5, (n,))
        put(f"in/nms{k}_boxes", boxes)
        put(f"in/nms{k}_scores", scores)
        put(f"in/nms{k}_classes", classes)
        for t in (0.0, 0.3, 0.5, 0.7, 1.0):
            put(f"out/nms{k}_{t}", ops.nms(boxes, scores, t))
            put(f"out/batched_nms{k}_{t}", ops.batched_nms(boxes, scores, classes, t))
    # Over 1000 boxes, torchvision's batched_nms runs class by class (its other code path).
    boxes, scores, classes = grid_boxes(1100, size=64), torch.randint(0, 16, (1100,)).float() / 16, torch.randint(0, 3, (1100,))
    put("in/nms_big_boxes", boxes)
    put("in/nms_big_scores", scores)
    put("in/nms_big_classes", classes)
    put("out/batched_nms_big", ops.batched_nms(boxes, scores, classes, 0.5))
    # That path orders equal scores by an unstable sort; its other path (and ours) lists them by index.
    put("out/batched_nms_big_by_index", boxes_ops._batched_nms_coordinate_trick(boxes, scores, classes, 0.5))
    put("out/nms_big", ops.nms(boxes, scores, 0.5))
    b64 = random_boxes(80).double()
    s64 = torch.rand(80, dtype=torch.float64)
    put("in/nms64_boxes", b64)
    put("in/nms64_scores", s64)
    put("out/nms64", ops.nms(b64, s64, 0.4))

    # Losses: sigmoid focal loss (hard and soft targets), GIoU loss, L1 and smooth L1 on boxes.
    logits = torch.randn(16, 5) * 3
    hard = (torch.rand(16, 5) < 0.3).float()
    soft = torch.rand(16, 5)
    put("in/focal_logits", logits)
    put("in/focal_hard", hard)
    put("in/focal_soft", soft)
    for name, kw in {"default": {}, "mean": {"reduction": "mean"}, "sum_a5_g1": {"alpha": 0.5, "gamma": 1.0, "reduction": "sum"},
                     "noalpha_g0": {"alpha": -1, "gamma": 0.0}, "g15": {"gamma": 1.5, "reduction": "mean"}}.items():
        with_grads(f"focal_{name}", lambda inputs, targets: ops.sigmoid_focal_loss(inputs, targets, **kw), inputs=logits, targets=hard)
    with_grads("focal_soft", lambda inputs, targets: ops.sigmoid_focal_loss(inputs, targets, reduction="sum"), inputs=logits, targets=soft)

    pred, target = random_boxes(12), random_boxes(12)
    pred[0] = target[0]
    pred[1] = target[1] + torch.tensor([200.0, 0.0, 200.0, 0.0])  # no overlap: GIoU below 0
    put("in/loss_pred", pred)
    put("in/loss_target", target)
    for red in ("none", "mean", "sum"):
        with_grads(f"giou_loss_{red}", lambda boxes1, boxes2: ops.generalized_box_iou_loss(boxes1, boxes2, reduction=red), boxes1=pred, boxes2=target)
    with_grads("giou_loss_eps", lambda boxes1, boxes2: ops.generalized_box_iou_loss(boxes1, boxes2, reduction="sum", eps=1e-3), boxes1=pred, boxes2=target)
    with_grads("l1_box", lambda input, target: F.l1_loss(input, target, reduction="sum"), input=pred, target=target)
    with_grads("smooth_l1_box", lambda input, target: F.smooth_l1_loss(input, target, beta=1.0 / 9, reduction="mean"), input=pred, target=target)

    safetensors_io.save(os.path.join(out_dir, "ops.safetensors"), OUT)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1])
