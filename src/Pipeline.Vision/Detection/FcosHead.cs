using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Models;
using static TorchSharp.torch;

namespace Pipeline.Vision.Detection;

/// <summary>
/// FCOS's shared head with torchvision's names: <c>classification_head</c> (a tower <c>conv</c> of conv/GroupNorm/ReLU
/// triples, then <c>cls_logits</c>) and <c>regression_head</c> (its own tower, then <c>bbox_reg</c> and
/// <c>bbox_ctrness</c>). Applied to every pyramid level; returns per image and location (fine level first, row-major)
/// class logits (N, L, C), box distances (N, L, 4, non-negative, in units of the location's anchor size) and
/// centre-ness logits (N, L, 1).
/// </summary>
public sealed class FcosHead : nn.Module<Tensor[], (Tensor Logits, Tensor Regression, Tensor Centerness)>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public FcosHead(long channels, long classes, int convs = 4, double priorProbability = 0.01) : base(nameof(FcosHead))
    {
        classification_head = this.Register("classification_head", new FcosClassificationHead(channels, classes, convs, priorProbability));
        regression_head = this.Register("regression_head", new FcosRegressionHead(channels, convs));
    }

    public FcosClassificationHead classification_head { get; }
    public FcosRegressionHead regression_head { get; }

    public override (Tensor Logits, Tensor Regression, Tensor Centerness) forward(Tensor[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var logits = cat([.. input.Select(classification_head.call)], 1);
        var outputs = input.Select(regression_head.call).ToList();
        var regression = cat([.. outputs.Select(o => o.Regression)], 1);
        var centerness = cat([.. outputs.Select(o => o.Centerness)], 1);
        return (logits.MoveToOuterDisposeScope(), regression.MoveToOuterDisposeScope(), centerness.MoveToOuterDisposeScope());
    }

    internal static Sequential Tower(long channels, int convs)
    {
        var tower = nn.Sequential();
        for (var k = 0; k < convs; k++)
        {
            tower.append(nn.Conv2d(channels, channels, 3, padding: 1));
            var norm = nn.GroupNorm(32, channels);
            // TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised (torch.empty): PyTorch's ones and zeros.
            nn.init.ones_(norm.weight);
            nn.init.zeros_(norm.bias);
            tower.append(norm);
            tower.append(nn.ReLU());
        }
        return tower;
    }

    /// <summary>(N, A*K, H, W) to (N, H*W*A, K): locations row-major, as the anchors are laid out.</summary>
    internal static Tensor PerLocation(Tensor map, long perLocation)
    {
        var (n, h, w) = (map.shape[0], map.shape[2], map.shape[3]);
        using var permuted = map.view(n, -1, perLocation, h, w).permute(0, 3, 4, 1, 2);
        return permuted.reshape(n, -1, perLocation);
    }

    internal static void InitNormal(Conv2d conv, double bias = 0)
    {
        nn.init.normal_(conv.weight, std: 0.01);
        nn.init.constant_(conv.bias!, bias);
    }
}

/// <summary>The classification branch: tower then <c>cls_logits</c>, its bias set so that every class starts at the prior probability.</summary>
public sealed class FcosClassificationHead : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public FcosClassificationHead(long channels, long classes, int convs, double priorProbability) : base(nameof(FcosClassificationHead))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        conv = this.Register("conv", FcosHead.Tower(channels, convs));
        foreach (var layer in conv.children()) if (layer is Conv2d c) FcosHead.InitNormal(c);
        cls_logits = this.Register("cls_logits", nn.Conv2d(channels, classes, 3, padding: 1));
        FcosHead.InitNormal(cls_logits, -Math.Log((1 - priorProbability) / priorProbability));
        Classes = classes;
    }

    public long Classes { get; }
    public Sequential conv { get; }
    public Conv2d cls_logits { get; }

    public override Tensor forward(Tensor input)
    {
        using var tower = conv.call(input);
        using var logits = cls_logits.call(tower);
        return FcosHead.PerLocation(logits, Classes);
    }
}

/// <summary>The box branch: tower then <c>bbox_reg</c> (ReLU: distances are non-negative) and <c>bbox_ctrness</c>.</summary>
public sealed class FcosRegressionHead : nn.Module<Tensor, (Tensor Regression, Tensor Centerness)>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public FcosRegressionHead(long channels, int convs) : base(nameof(FcosRegressionHead))
    {
        conv = this.Register("conv", FcosHead.Tower(channels, convs));
        bbox_reg = this.Register("bbox_reg", nn.Conv2d(channels, 4, 3, padding: 1));
        bbox_ctrness = this.Register("bbox_ctrness", nn.Conv2d(channels, 1, 3, padding: 1));
        foreach (var layer in conv.children()) if (layer is Conv2d c) FcosHead.InitNormal(c);
        FcosHead.InitNormal(bbox_reg);
        FcosHead.InitNormal(bbox_ctrness);
    }

    public Sequential conv { get; }
    public Conv2d bbox_reg { get; }
    public Conv2d bbox_ctrness { get; }

    public override (Tensor Regression, Tensor Centerness) forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var tower = conv.call(input);
        var regression = FcosHead.PerLocation(nn.functional.relu(bbox_reg.call(tower)), 4);
        var centerness = FcosHead.PerLocation(bbox_ctrness.call(tower), 1);
        return (regression.MoveToOuterDisposeScope(), centerness.MoveToOuterDisposeScope());
    }
}
