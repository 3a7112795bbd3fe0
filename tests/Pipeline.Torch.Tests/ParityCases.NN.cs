using static Pipeline.Torch.torch;
using static Pipeline.Torch.torch.nn;
using F = Pipeline.Torch.torch.nn.functional;

namespace Pipeline.Torch.Tests;

/// <summary>Mirrors Reference/cases_nn.py.</summary>
[ParityCaseSet]
public static class NNParityCases
{
    public static Dictionary<string, ParityCases.Case> Cases { get; } = new()
    {
        // ---- layers' ops ----
        ["nn_linear"] = i => new() { ["out"] = F.linear(i("x"), i("w"), i("b")), ["nobias"] = F.linear(i("x"), i("w")) },
        ["nn_conv2d"] = i => new()
        {
            ["out"] = F.conv2d(i("x"), i("w"), i("b"), padding: 1),
            ["nobias_stride2"] = F.conv2d(i("x"), i("w"), stride: 2),
        },
        ["nn_conv2d_stride_pad_groups"] = i => new()
        {
            ["out"] = F.conv2d(i("x"), i("w"), i("b"), stride: (2, 1), padding: (1, 2), groups: 2),
            ["dilated"] = F.conv2d(i("x"), i("w"), i("b"), stride: 1, padding: 2, dilation: (2, 1), groups: 2),
        },
        ["nn_batch_norm_train"] = i =>
        {
            var (rm, rv) = (i("rm").clone(), i("rv").clone());
            var output = F.batch_norm(i("x"), rm, rv, i("w"), i("b"), training: true, momentum: 0.2, eps: 1e-3);
            return new()
            {
                ["out"] = output, ["running_mean"] = rm, ["running_var"] = rv,
                ["no_stats"] = F.batch_norm(i("x"), null, null, i("w"), i("b"), training: true),
            };
        },
        ["nn_batch_norm_eval"] = i => new()
        {
            ["out"] = F.batch_norm(i("x"), i("rm"), i("rv"), i("w"), i("b"), training: false, eps: 1e-4),
            ["no_affine"] = F.batch_norm(i("x"), i("rm"), i("rv")),
        },
        ["nn_group_norm"] = i => new()
        {
            ["out"] = F.group_norm(i("x"), 3, i("w"), i("b"), eps: 1e-4), ["no_affine"] = F.group_norm(i("x"), 2),
        },
        ["nn_layer_norm"] = i => new()
        {
            ["out"] = F.layer_norm(i("x"), [4, 5], i("w"), i("b"), eps: 1e-4), ["last"] = F.layer_norm(i("x"), [5]),
        },
        ["nn_activations"] = i =>
        {
            var x = i("x");
            return new()
            {
                ["relu"] = F.relu(x), ["silu"] = F.silu(x), ["gelu"] = F.gelu(x), ["gelu_tanh"] = F.gelu(x, approximate: "tanh"),
                ["leaky_relu"] = F.leaky_relu(x), ["leaky_relu_02"] = F.leaky_relu(x, 0.2),
            };
        },
        ["nn_max_pool2d"] = i =>
        {
            var x = i("x");
            return new()
            {
                ["k2"] = F.max_pool2d(x, 2), ["k3s2p1"] = F.max_pool2d(x, 3, stride: 2, padding: 1),
                ["ceil_dilated"] = F.max_pool2d(x, (2, 3), stride: (2, 1), dilation: (1, 2), ceil_mode: true),
            };
        },
        ["nn_avg_pool2d"] = i =>
        {
            var x = i("x");
            return new()
            {
                ["k2"] = F.avg_pool2d(x, 2), ["k3s2p1"] = F.avg_pool2d(x, 3, stride: 2, padding: 1),
                ["no_pad_count_ceil"] = F.avg_pool2d(x, 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false),
                ["divisor"] = F.avg_pool2d(x, (2, 3), divisor_override: 4),
            };
        },
        ["nn_adaptive_avg_pool2d"] = i => new() { ["one"] = F.adaptive_avg_pool2d(i("x"), 1), ["uneven"] = F.adaptive_avg_pool2d(i("x"), (3, 2)) },
        ["nn_interpolate_nearest"] = i =>
        {
            var x = i("x");
            return new()
            {
                ["size"] = F.interpolate(x, size: (7, 9), mode: InterpolationMode.Nearest), ["scale2"] = F.interpolate(x, scale_factor: 2),
                ["scale_frac"] = F.interpolate(x, scale_factor: (1.5, 0.75)),
                ["recompute"] = F.interpolate(x, scale_factor: 1.7, recompute_scale_factor: true),
            };
        },
        ["nn_interpolate_bilinear"] = i =>
        {
            var x = i("x");
            return new()
            {
                ["size"] = F.interpolate(x, size: (9, 7), mode: InterpolationMode.Bilinear),
                ["align"] = F.interpolate(x, size: (9, 7), mode: InterpolationMode.Bilinear, align_corners: true),
                ["scale"] = F.interpolate(x, scale_factor: (1.5, 2.5), mode: InterpolationMode.Bilinear),
                ["down_aa"] = F.interpolate(x, scale_factor: 0.5, mode: InterpolationMode.Bilinear, antialias: true),
                ["size_aa"] = F.interpolate(x, size: (4, 3), mode: InterpolationMode.Bilinear, antialias: true, align_corners: true),
            };
        },
        ["nn_pad"] = i =>
        {
            var x = i("x");
            return new() { ["last"] = F.pad(x, [1, 2]), ["two"] = F.pad(x, [1, 0, 2, 3], value: 1.5), ["crop"] = F.pad(x, [-1, 1, 0, -2]) };
        },
        ["nn_dropout"] = i =>
        {
            var x = i("x");
            manual_seed(1234);
            var train = F.dropout(x, 0.3, training: true);
            return new() { ["train"] = train, ["eval"] = F.dropout(x, 0.3, training: false) * 1.0, ["p0"] = F.dropout(x, 0.0) * 1.0 };
        },

        // ---- losses ----
        ["nn_cross_entropy"] = i =>
        {
            var (x, t, wt) = (i("x"), i("t"), i("wt"));
            return new()
            {
                ["mean"] = F.cross_entropy(x, t), ["sum"] = F.cross_entropy(x, t, reduction: Reduction.Sum),
                ["none"] = F.cross_entropy(x, t, reduction: Reduction.None),
                ["weighted_ignore"] = F.cross_entropy(x, t, weight: wt, ignore_index: 3),
                ["smooth"] = F.cross_entropy(x, t, label_smoothing: 0.1),
                ["smooth_weighted_ignore"] = F.cross_entropy(x, t, weight: wt, ignore_index: 3, label_smoothing: 0.2),
                ["smooth_none"] = F.cross_entropy(x, t, weight: wt, reduction: Reduction.None, label_smoothing: 0.3),
            };
        },
        ["nn_cross_entropy_spatial_and_probs"] = i =>
        {
            var (x, t, p, y) = (i("x"), i("t"), i("p"), i("y"));
            return new()
            {
                ["spatial"] = F.cross_entropy(x, t, ignore_index: 1), ["spatial_smooth"] = F.cross_entropy(x, t, label_smoothing: 0.15),
                ["probs"] = F.cross_entropy(y, p), ["probs_smooth_sum"] = F.cross_entropy(y, p, label_smoothing: 0.1, reduction: Reduction.Sum),
            };
        },
        ["nn_nll_loss"] = i =>
        {
            var (lp, t, wt) = (i("lp"), i("t"), i("wt"));
            return new()
            {
                ["mean"] = F.nll_loss(lp, t), ["weighted"] = F.nll_loss(lp, t, weight: wt),
                ["ignore_sum"] = F.nll_loss(lp, t, ignore_index: 1, reduction: Reduction.Sum),
                ["none"] = F.nll_loss(lp, t, weight: wt, reduction: Reduction.None),
            };
        },
        ["nn_bce_with_logits"] = i =>
        {
            var (x, t, wt, pw) = (i("x"), i("t"), i("wt"), i("pw"));
            return new()
            {
                ["mean"] = F.binary_cross_entropy_with_logits(x, t),
                ["weighted_sum"] = F.binary_cross_entropy_with_logits(x, t, weight: wt, reduction: Reduction.Sum),
                ["pos_weight"] = F.binary_cross_entropy_with_logits(x, t, pos_weight: pw),
                ["both_none"] = F.binary_cross_entropy_with_logits(x, t, weight: wt, pos_weight: pw, reduction: Reduction.None),
            };
        },
        ["nn_regression_losses"] = i =>
        {
            var (x, y) = (i("x"), i("y"));
            return new()
            {
                ["mse"] = F.mse_loss(x, y), ["mse_sum"] = F.mse_loss(x, y, Reduction.Sum), ["mse_none"] = F.mse_loss(x, y, Reduction.None),
                ["l1"] = F.l1_loss(x, y), ["l1_none"] = F.l1_loss(x, y, Reduction.None),
                ["smooth_l1"] = F.smooth_l1_loss(x, y), ["smooth_l1_beta"] = F.smooth_l1_loss(x, y, Reduction.Sum, beta: 0.5),
                ["smooth_l1_beta0"] = F.smooth_l1_loss(x, y, Reduction.None, beta: 0.0),
            };
        },

        // ---- init ----
        ["nn_init"] = _ =>
        {
            manual_seed(11);
            return new()
            {
                ["uniform"] = init.uniform_(empty(3, 4), -0.5, 2.0),
                ["normal"] = init.normal_(empty(3, 4), 0.5, 2.0),
                ["constant"] = init.constant_(empty(2, 2), 0.25),
                ["zeros"] = init.zeros_(empty(2, 3)),
                ["ones"] = init.ones_(empty(3)),
                ["kaiming_uniform"] = init.kaiming_uniform_(empty(8, 3, 3, 3)),
                ["kaiming_uniform_sqrt5"] = init.kaiming_uniform_(empty(6, 10), a: Math.Sqrt(5)),
                ["kaiming_normal_fan_out"] = init.kaiming_normal_(empty(8, 4, 3, 3), mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU),
                ["kaiming_normal_leaky"] = init.kaiming_normal_(empty(5, 7), a: 0.2),
                ["xavier_uniform"] = init.xavier_uniform_(empty(5, 4, 2, 2), gain: init.calculate_gain(init.NonlinearityType.Tanh)),
                ["xavier_normal"] = init.xavier_normal_(empty(6, 9)),
                ["gains"] = tensor(new[]
                {
                    init.calculate_gain(init.NonlinearityType.Linear), init.calculate_gain(init.NonlinearityType.Conv2D),
                    init.calculate_gain(init.NonlinearityType.Sigmoid), init.calculate_gain(init.NonlinearityType.Tanh),
                    init.calculate_gain(init.NonlinearityType.ReLU), init.calculate_gain(init.NonlinearityType.LeakyReLU),
                    init.calculate_gain(init.NonlinearityType.SELU), init.calculate_gain(init.NonlinearityType.LeakyReLU, 0.2),
                    init.calculate_gain(init.NonlinearityType.LeakyReLU, Math.Sqrt(5)),
                }),
            };
        },
        ["nn_default_init"] = _ =>
        {
            manual_seed(2024);
            using var lin = new Linear(20, 7);
            using var conv = new Conv2d(4, 6, (3, 2), groups: 2);
            using var convNoBias = new Conv2d(3, 5, 3, bias: false);
            using var lin2 = new Linear(3, 2);
            return new()
            {
                ["linear.weight"] = lin.weight.detach(), ["linear.bias"] = lin.bias!.detach(), ["conv.weight"] = conv.weight.detach(),
                ["conv.bias"] = conv.bias!.detach(), ["conv_nobias.weight"] = convNoBias.weight.detach(),
                ["linear2.weight"] = lin2.weight.detach(), ["linear2.bias"] = lin2.bias!.detach(),
            };
        },
        ["nn_modules"] = i =>
        {
            var x = i("x");
            manual_seed(5);
            using var model = new Sequential(
                new Conv2d(3, 4, 3, padding: 1), new GroupNorm(2, 4), new SiLU(), new AvgPool2d(2),
                new Conv2d(4, 6, (3, 1), groups: 2, bias: false), new BatchNorm2d(6), new LeakyReLU(0.1), new MaxPool2d(2, ceil_mode: true),
                new AdaptiveAvgPool2d((2, 2)), new Flatten(), new LayerNorm(24), new GELU(), new Identity(), new Dropout(0.0),
                new Linear(24, 5), new ReLU());
            var train = model.call(x);
            model.eval();
            return new() { ["train"] = train, ["eval"] = model.call(x) };
        },
    };
}
