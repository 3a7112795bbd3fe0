"""torchvision reference for FcosParityTests.

Builds torchvision's FCOS with a ResNet-18 body and a 64-channel FPN over layer2..layer4 with P6/P7
(BackboneWithFPN + LastLevelP6P7, 4 classes; torch.manual_seed(0)) and writes into OUT_DIR:
  weights.safetensors    its state_dict, as torchvision names it
  reference.safetensors  x (2x3x96x128); anchors; train mode: cls_logits, bbox_regression, bbox_ctrness, the three
                         losses for targets t<i>_boxes/t<i>_labels (loss_no_objects/*: image 1 without objects), grad/<name> of their sum for a few parameters;
                         eval mode: eval_cls_logits; postprocessing of random head outputs pp_cls/pp_reg/pp_ctr:
                         det<i>_boxes/scores/labels. Metadata: locations per level, state_dict keys.

Usage: /usr/bin/python3 torchvision_fcos.py OUT_DIR THREADS
"""
import os
import sys

import torch
import torchvision
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOS
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

import safetensors_io

GRADS = ["backbone.body.conv1.weight", "backbone.body.layer4.1.conv2.weight", "backbone.fpn.inner_blocks.0.0.weight",
         "backbone.fpn.layer_blocks.2.0.bias", "backbone.fpn.extra_blocks.p7.weight",
         "head.classification_head.conv.1.weight", "head.classification_head.cls_logits.weight",
         "head.regression_head.bbox_reg.weight", "head.regression_head.bbox_ctrness.bias"]


def main(out_dir):
    torch.manual_seed(0)
    backbone = BackboneWithFPN(torchvision.models.resnet18(), {"layer2": "0", "layer3": "1", "layer4": "2"},
                               [128, 256, 512], 64, extra_blocks=LastLevelP6P7(64, 64))
    model = FCOS(backbone, num_classes=4)
    safetensors_io.save(os.path.join(out_dir, "weights.safetensors"), model.state_dict())

    out = {}
    x = torch.randn(2, 3, 96, 128)
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 40.0, 50.0], [60.0, 20.0, 120.0, 90.0], [5.0, 60.0, 30.0, 90.0]]),
         "labels": torch.tensor([0, 2, 3])},
        {"boxes": torch.tensor([[30.5, 30.0, 70.0, 80.25], [0.0, 0.0, 128.0, 96.0]]), "labels": torch.tensor([1, 1])},
    ]
    out["x"] = x
    for i, t in enumerate(targets):
        out[f"t{i}_boxes"], out[f"t{i}_labels"] = t["boxes"], t["labels"]

    model.train()
    features = list(model.backbone(x).values())
    head_outputs = model.head(features)
    images = ImageList(x, [(96, 128)] * 2)
    anchors = model.anchor_generator(images, features)
    per_level = [f.size(2) * f.size(3) for f in features]
    losses = model.compute_loss(targets, head_outputs, anchors, per_level)
    with torch.no_grad():
        no_objects = [targets[0], {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
        for k, v in model.compute_loss(no_objects, head_outputs, anchors, per_level).items():
            out[f"loss_no_objects/{k}"] = v
    sum(losses.values()).backward()
    out["anchors"] = anchors[0]
    for k, v in head_outputs.items():
        out[k] = v.detach()
    for k, v in losses.items():
        out[f"loss/{k}"] = v.detach()
    params = dict(model.named_parameters())
    for name in GRADS:
        out[f"grad/{name}"] = params[name].grad

    model.eval()
    with torch.no_grad():
        out["eval_cls_logits"] = model.head(list(model.backbone(x).values()))["cls_logits"]

    # Postprocessing on random head outputs: continuous scores, so the order of detections is unambiguous.
    total = sum(per_level)
    pp = {"cls_logits": torch.randn(2, total, 4) * 2 - 1, "bbox_regression": torch.rand(2, total, 4) * 2,
          "bbox_ctrness": torch.randn(2, total, 1)}
    out["pp_cls"], out["pp_reg"], out["pp_ctr"] = pp["cls_logits"], pp["bbox_regression"], pp["bbox_ctrness"]
    split = {k: list(v.split(per_level, dim=1)) for k, v in pp.items()}
    split_anchors = [list(a.split(per_level)) for a in anchors]
    with torch.no_grad():
        detections = model.postprocess_detections(split, split_anchors, images.image_sizes)
    for i, d in enumerate(detections):
        out[f"det{i}_boxes"], out[f"det{i}_scores"], out[f"det{i}_labels"] = d["boxes"], d["scores"], d["labels"]

    meta = {"per_level": ",".join(map(str, per_level)), "state_dict": ",".join(model.state_dict().keys()), "grads": ",".join(GRADS)}
    safetensors_io.save(os.path.join(out_dir, "reference.safetensors"), out, meta)


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[2]))
    main(sys.argv[1])
