"""Parity cases: torch.nn.functional ops and losses (forward and input gradients), torch.nn.init and the
default initialisation of nn.Linear / nn.Conv2d (bit for bit: atol = rtol = 0)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from parity_lib import case, randn


# ---- layers' ops ----

@case("nn_linear")
def _(c):
    x = c.add("x", randn(3, 5), grad=True)
    w = c.add("w", randn(4, 5), grad=True)
    b = c.add("b", randn(4), grad=True)
    return {"out": F.linear(x, w, b), "nobias": F.linear(x, w)}


@case("nn_conv2d")
def _(c):
    x = c.add("x", randn(2, 3, 7, 6), grad=True)
    w = c.add("w", randn(5, 3, 3, 3), grad=True)
    b = c.add("b", randn(5), grad=True)
    return {"out": F.conv2d(x, w, b, padding=1), "nobias_stride2": F.conv2d(x, w, stride=2)}


@case("nn_conv2d_stride_pad_groups")
def _(c):
    x = c.add("x", randn(2, 4, 9, 8), grad=True)
    w = c.add("w", randn(6, 2, 3, 2), grad=True)
    b = c.add("b", randn(6), grad=True)
    return {"out": F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), groups=2),
            "dilated": F.conv2d(x, w, b, stride=1, padding=2, dilation=(2, 1), groups=2)}


@case("nn_batch_norm_train")
def _(c):
    x = c.add("x", randn(4, 3, 5, 5) * 2 + 1, grad=True)
    w = c.add("w", randn(3), grad=True)
    b = c.add("b", randn(3), grad=True)
    rm = c.add("rm", randn(3)).clone()
    rv = c.add("rv", randn(3).abs() + 0.5).clone()
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-3)
    return {"out": out, "running_mean": rm, "running_var": rv,
            "no_stats": F.batch_norm(x, None, None, w, b, training=True)}


@case("nn_batch_norm_eval")
def _(c):
    x = c.add("x", randn(4, 3, 5, 5), grad=True)
    w = c.add("w", randn(3), grad=True)
    b = c.add("b", randn(3), grad=True)
    rm = c.add("rm", randn(3))
    rv = c.add("rv", randn(3).abs() + 0.5)
    return {"out": F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-4), "no_affine": F.batch_norm(x, rm, rv)}


@case("nn_group_norm")
def _(c):
    x = c.add("x", randn(2, 6, 4, 3) * 3, grad=True)
    w = c.add("w", randn(6), grad=True)
    b = c.add("b", randn(6), grad=True)
    return {"out": F.group_norm(x, 3, w, b, eps=1e-4), "no_affine": F.group_norm(x, 2)}


@case("nn_layer_norm")
def _(c):
    x = c.add("x", randn(3, 4, 5) * 2 - 1, grad=True)
    w = c.add("w", randn(4, 5), grad=True)
    b = c.add("b", randn(4, 5), grad=True)
    return {"out": F.layer_norm(x, [4, 5], w, b, eps=1e-4), "last": F.layer_norm(x, [5])}


@case("nn_activations")
def _(c):
    x = c.add("x", randn(4, 7) * 3, grad=True)
    return {"relu": F.relu(x), "silu": F.silu(x), "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"),
            "leaky_relu": F.leaky_relu(x), "leaky_relu_02": F.leaky_relu(x, 0.2)}


@case("nn_max_pool2d")
def _(c):
    x = c.add("x", randn(2, 3, 9, 8), grad=True)
    return {"k2": F.max_pool2d(x, 2), "k3s2p1": F.max_pool2d(x, 3, stride=2, padding=1),
            "ceil_dilated": F.max_pool2d(x, (2, 3), stride=(2, 1), dilation=(1, 2), ceil_mode=True)}


@case("nn_avg_pool2d")
def _(c):
    x = c.add("x", randn(2, 3, 9, 8), grad=True)
    return {"k2": F.avg_pool2d(x, 2), "k3s2p1": F.avg_pool2d(x, 3, stride=2, padding=1),
            "no_pad_count_ceil": F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            "divisor": F.avg_pool2d(x, (2, 3), divisor_override=4)}


@case("nn_adaptive_avg_pool2d")
def _(c):
    x = c.add("x", randn(2, 3, 7, 5), grad=True)
    return {"one": F.adaptive_avg_pool2d(x, 1), "uneven": F.adaptive_avg_pool2d(x, (3, 2))}


@case("nn_interpolate_nearest")
def _(c):
    x = c.add("x", randn(2, 3, 5, 4), grad=True)
    return {"size": F.interpolate(x, size=(7, 9), mode="nearest"), "scale2": F.interpolate(x, scale_factor=2),
            "scale_frac": F.interpolate(x, scale_factor=(1.5, 0.75)),
            "recompute": F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True)}


@case("nn_interpolate_bilinear")
def _(c):
    x = c.add("x", randn(2, 3, 6, 5), grad=True)
    return {"size": F.interpolate(x, size=(9, 7), mode="bilinear"),
            "align": F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=True),
            "scale": F.interpolate(x, scale_factor=(1.5, 2.5), mode="bilinear"),
            "down_aa": F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True),
            "size_aa": F.interpolate(x, size=(4, 3), mode="bilinear", antialias=True, align_corners=True)}


@case("nn_pad")
def _(c):
    x = c.add("x", randn(2, 3, 4, 5), grad=True)
    return {"last": F.pad(x, (1, 2)), "two": F.pad(x, (1, 0, 2, 3), value=1.5), "crop": F.pad(x, (-1, 1, 0, -2))}


@case("nn_dropout")
def _(c):
    x = c.add("x", randn(6, 40), grad=True)
    torch.manual_seed(1234)
    train = F.dropout(x, 0.3, training=True)
    return {"train": train, "eval": F.dropout(x, 0.3, training=False) * 1.0, "p0": F.dropout(x, 0.0) * 1.0}


# ---- losses ----

@case("nn_cross_entropy")
def _(c):
    x = c.add("x", randn(6, 5), grad=True)
    t = c.add("t", torch.tensor([0, 3, 4, 1, 3, 2]))
    wt = c.add("wt", torch.rand(5) + 0.5)
    return {"mean": F.cross_entropy(x, t), "sum": F.cross_entropy(x, t, reduction="sum"),
            "none": F.cross_entropy(x, t, reduction="none"),
            "weighted_ignore": F.cross_entropy(x, t, weight=wt, ignore_index=3),
            "smooth": F.cross_entropy(x, t, label_smoothing=0.1),
            "smooth_weighted_ignore": F.cross_entropy(x, t, weight=wt, ignore_index=3, label_smoothing=0.2),
            "smooth_none": F.cross_entropy(x, t, weight=wt, reduction="none", label_smoothing=0.3)}


@case("nn_cross_entropy_spatial_and_probs")
def _(c):
    x = c.add("x", randn(2, 4, 3, 3), grad=True)
    t = c.add("t", torch.randint(0, 4, (2, 3, 3)))
    p = c.add("p", torch.softmax(randn(5, 4), 1))
    y = c.add("y", randn(5, 4), grad=True)
    return {"spatial": F.cross_entropy(x, t, ignore_index=1), "spatial_smooth": F.cross_entropy(x, t, label_smoothing=0.15),
            "probs": F.cross_entropy(y, p), "probs_smooth_sum": F.cross_entropy(y, p, label_smoothing=0.1, reduction="sum")}


@case("nn_nll_loss")
def _(c):
    lp = c.add("lp", torch.log_softmax(randn(7, 4), 1), grad=True)
    t = c.add("t", torch.tensor([0, 1, 2, 3, 1, 1, 0]))
    wt = c.add("wt", torch.rand(4) + 0.5)
    return {"mean": F.nll_loss(lp, t), "weighted": F.nll_loss(lp, t, weight=wt),
            "ignore_sum": F.nll_loss(lp, t, ignore_index=1, reduction="sum"), "none": F.nll_loss(lp, t, weight=wt, reduction="none")}


@case("nn_bce_with_logits")
def _(c):
    x = c.add("x", randn(4, 3) * 2, grad=True)
    t = c.add("t", torch.rand(4, 3))
    wt = c.add("wt", torch.rand(4, 3))
    pw = c.add("pw", torch.rand(3) * 3)
    return {"mean": F.binary_cross_entropy_with_logits(x, t),
            "weighted_sum": F.binary_cross_entropy_with_logits(x, t, weight=wt, reduction="sum"),
            "pos_weight": F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
            "both_none": F.binary_cross_entropy_with_logits(x, t, weight=wt, pos_weight=pw, reduction="none")}


@case("nn_regression_losses")
def _(c):
    x = c.add("x", randn(3, 5) * 2, grad=True)
    y = c.add("y", randn(3, 5), grad=True)
    return {"mse": F.mse_loss(x, y), "mse_sum": F.mse_loss(x, y, reduction="sum"), "mse_none": F.mse_loss(x, y, reduction="none"),
            "l1": F.l1_loss(x, y), "l1_none": F.l1_loss(x, y, reduction="none"),
            "smooth_l1": F.smooth_l1_loss(x, y), "smooth_l1_beta": F.smooth_l1_loss(x, y, beta=0.5, reduction="sum"),
            "smooth_l1_beta0": F.smooth_l1_loss(x, y, beta=0.0, reduction="none")}


# ---- init: the same generator calls give the same bits ----

@case("nn_init", atol=0.0, rtol=0.0)
def _(c):
    out = {}
    torch.manual_seed(11)
    out["uniform"] = nn.init.uniform_(torch.empty(3, 4), -0.5, 2.0)
    out["normal"] = nn.init.normal_(torch.empty(3, 4), 0.5, 2.0)
    out["constant"] = nn.init.constant_(torch.empty(2, 2), 0.25)
    out["zeros"] = nn.init.zeros_(torch.empty(2, 3))
    out["ones"] = nn.init.ones_(torch.empty(3))
    out["kaiming_uniform"] = nn.init.kaiming_uniform_(torch.empty(8, 3, 3, 3))
    out["kaiming_uniform_sqrt5"] = nn.init.kaiming_uniform_(torch.empty(6, 10), a=math.sqrt(5))
    out["kaiming_normal_fan_out"] = nn.init.kaiming_normal_(torch.empty(8, 4, 3, 3), mode="fan_out", nonlinearity="relu")
    out["kaiming_normal_leaky"] = nn.init.kaiming_normal_(torch.empty(5, 7), a=0.2)
    out["xavier_uniform"] = nn.init.xavier_uniform_(torch.empty(5, 4, 2, 2), gain=nn.init.calculate_gain("tanh"))
    out["xavier_normal"] = nn.init.xavier_normal_(torch.empty(6, 9))
    out["gains"] = torch.tensor([nn.init.calculate_gain(n) for n in ("linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")]
                                + [nn.init.calculate_gain("leaky_relu", 0.2), nn.init.calculate_gain("leaky_relu", math.sqrt(5))],
                                dtype=torch.float64)
    return out


@case("nn_default_init", atol=0.0, rtol=0.0)
def _(c):
    torch.manual_seed(2024)
    lin = nn.Linear(20, 7)
    conv = nn.Conv2d(4, 6, (3, 2), groups=2)
    conv_nobias = nn.Conv2d(3, 5, 3, bias=False)
    lin2 = nn.Linear(3, 2)
    return {"linear.weight": lin.weight.detach(), "linear.bias": lin.bias.detach(), "conv.weight": conv.weight.detach(),
            "conv.bias": conv.bias.detach(), "conv_nobias.weight": conv_nobias.weight.detach(),
            "linear2.weight": lin2.weight.detach(), "linear2.bias": lin2.bias.detach()}


@case("nn_modules")
def _(c):
    # Every layer module in one model: default initialisation, forward in train then eval mode.
    x = c.add("x", randn(2, 3, 10, 10), grad=True)
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU(), nn.AvgPool2d(2),
        nn.Conv2d(4, 6, (3, 1), groups=2, bias=False), nn.BatchNorm2d(6), nn.LeakyReLU(0.1), nn.MaxPool2d(2, ceil_mode=True),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.LayerNorm(24), nn.GELU(), nn.Identity(), nn.Dropout(0.0),
        nn.Linear(24, 5), nn.ReLU())
    train = model(x)
    model.eval()
    return {"train": train, "eval": model(x)}
