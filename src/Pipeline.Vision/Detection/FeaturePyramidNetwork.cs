using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Models;
using static TorchSharp.torch;

namespace Pipeline.Vision.Detection;

/// <summary>
/// A feature pyramid (Lin et al., 2017) with torchvision's names: 1x1 lateral convolutions <c>inner_blocks.{i}.0</c>,
/// 3x3 output convolutions <c>layer_blocks.{i}.0</c>, a nearest-neighbour top-down path, and optionally RetinaNet/FCOS's
/// extra levels <c>extra_blocks.p6</c>/<c>p7</c> (3x3 stride-2 convolutions on the last output, ReLU between).
/// Takes the backbone's maps from fine to coarse and returns one map of <c>outChannels</c> per level, fine to coarse.
/// </summary>
public sealed class FeaturePyramidNetwork : nn.Module<Tensor[], Tensor[]>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public FeaturePyramidNetwork(long[] inChannels, long outChannels, bool extraP6P7 = false) : base(nameof(FeaturePyramidNetwork))
    {
        ArgumentNullException.ThrowIfNull(inChannels);
        if (inChannels.Length == 0 || inChannels.Any(c => c < 1)) throw new ArgumentException("a pyramid needs at least one input level of positive channels", nameof(inChannels));
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        // A TorchSharp ModuleList registers its items when it is registered itself: filled first.
        inner_blocks = this.Register("inner_blocks", nn.ModuleList([.. inChannels.Select(c => nn.Sequential(nn.Conv2d(c, outChannels, 1)))]));
        layer_blocks = this.Register("layer_blocks", nn.ModuleList([.. inChannels.Select(_ => nn.Sequential(nn.Conv2d(outChannels, outChannels, 3, padding: 1)))]));
        if (extraP6P7) extra_blocks = this.Register("extra_blocks", new LastLevelP6P7(outChannels, outChannels));
        // torchvision's initialisation: He uniform with a = 1, zero biases.
        foreach (var module in modules())
            if (module is Conv2d conv)
            {
                nn.init.kaiming_uniform_(conv.weight, a: 1);
                if (conv.bias is { } bias) nn.init.zeros_(bias);
            }
        OutChannels = outChannels;
    }

    public long OutChannels { get; }
    public ModuleList<Sequential> inner_blocks { get; }
    public ModuleList<Sequential> layer_blocks { get; }
    public LastLevelP6P7? extra_blocks { get; }

    /// <summary>Levels out: one per input, plus two with the extra blocks.</summary>
    public int Levels => inner_blocks.Count + (extra_blocks is null ? 0 : 2);

    public override Tensor[] forward(Tensor[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Length != inner_blocks.Count) throw new ArgumentException($"expected {inner_blocks.Count} feature maps, got {input.Length}", nameof(input));
        using var scope = NewDisposeScope();
        var last = inner_blocks[^1].call(input[^1]);
        var results = new List<Tensor> { layer_blocks[^1].call(last) };
        for (var k = input.Length - 2; k >= 0; k--)
        {
            var lateral = inner_blocks[k].call(input[k]);
            var topDown = nn.functional.interpolate(last, size: [lateral.shape[2], lateral.shape[3]], mode: InterpolationMode.Nearest);
            last = lateral + topDown;
            results.Insert(0, layer_blocks[k].call(last));
        }
        if (extra_blocks is not null) results.AddRange(extra_blocks.call((results[^1], input[^1])));
        return [.. results.Select(r => r.MoveToOuterDisposeScope())];
    }
}

/// <summary>
/// RetinaNet's and FCOS's extra pyramid levels: P6 = conv(P5 or C5), P7 = conv(relu(P6)), 3x3 stride 2 each. P5 feeds
/// P6 when the channel counts agree (torchvision's <c>use_P5</c>), else C5.
/// </summary>
public sealed class LastLevelP6P7 : nn.Module<(Tensor P5, Tensor C5), Tensor[]>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public LastLevelP6P7(long inChannels, long outChannels) : base(nameof(LastLevelP6P7))
    {
        p6 = this.Register("p6", nn.Conv2d(inChannels, outChannels, 3, stride: 2, padding: 1));
        p7 = this.Register("p7", nn.Conv2d(outChannels, outChannels, 3, stride: 2, padding: 1));
        UseP5 = inChannels == outChannels;
    }

    public Conv2d p6 { get; }
    public Conv2d p7 { get; }
    public bool UseP5 { get; }

    public override Tensor[] forward((Tensor P5, Tensor C5) input)
    {
        var level6 = p6.call(UseP5 ? input.P5 : input.C5);
        using var relu = nn.functional.relu(level6);
        return [level6, p7.call(relu)];
    }
}
