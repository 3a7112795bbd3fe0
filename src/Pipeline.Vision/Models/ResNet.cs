using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// The ImageNet ResNet with torchvision's architecture and names (ResNet v1.5: a bottleneck's stride sits in its 3x3
/// convolution): a 7x7/2 stem (<c>conv1</c>, <c>bn1</c>, <c>relu</c>, <c>maxpool</c>), four stages <c>layer1</c>..
/// <c>layer4</c> of 64, 128, 256, 512 planes (the last three halve the resolution), global average pooling and a
/// linear head <c>fc</c>. A torchvision state dict loads as it is, no renaming. Any input channel count (1 for grey
/// images) works, and any input size down to 28x28 (Fashion-MNIST: layer4 is then 1x1).
/// </summary>
public sealed class ResNet : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    /// <summary>The backbone's modules from input to output, as a recipe's freeze plan names them (conv1 and bn1 are the stem).</summary>
    public static IReadOnlyList<string> BackboneModules { get; } = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"];

    /// <param name="bottleneck">Bottleneck blocks (ResNet-50 and deeper) rather than basic blocks</param>
    /// <param name="layers">blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18</param>
    /// <param name="includeHead">false: the backbone alone (no avgpool and fc; torchvision's detection body), for
    /// <see cref="forward_stages"/></param>
    public ResNet(bool bottleneck, int[] layers, long inChannels = 3, long classes = 1000, bool includeHead = true) : base(nameof(ResNet))
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Length != 4 || layers.Any(n => n < 1)) throw new ArgumentException("a ResNet has four stages of at least one block each", nameof(layers));
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        Bottlenecked = bottleneck;
        StageBlocks = [.. layers];
        var expansion = bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;
        conv1 = this.Register("conv1", nn.Conv2d(inChannels, 64, 7, stride: 2, padding: 3, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(64));
        register_module("relu", nn.ReLU());
        register_module("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1));
        long channels = 64;
        layer1 = this.Register("layer1", Stage(bottleneck, ref channels, 64, layers[0], 1));
        layer2 = this.Register("layer2", Stage(bottleneck, ref channels, 128, layers[1], 2));
        layer3 = this.Register("layer3", Stage(bottleneck, ref channels, 256, layers[2], 2));
        layer4 = this.Register("layer4", Stage(bottleneck, ref channels, 512, layers[3], 2));
        FeatureChannels = 512 * expansion;
        if (includeHead)
        {
            register_module("avgpool", nn.AdaptiveAvgPool2d(1));
            head = this.Register("fc", nn.Linear(FeatureChannels, classes));
        }
        // torchvision's initialisation: He (fan-out) for convolutions; batch norm is already 1 and 0, the head PyTorch's default.
        foreach (var module in modules())
            if (module is Conv2d conv) nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
    }

    public static ResNet resnet18(long inChannels = 3, long classes = 1000) => new(false, [2, 2, 2, 2], inChannels, classes);
    public static ResNet resnet34(long inChannels = 3, long classes = 1000) => new(false, [3, 4, 6, 3], inChannels, classes);
    public static ResNet resnet50(long inChannels = 3, long classes = 1000) => new(true, [3, 4, 6, 3], inChannels, classes);

    /// <summary>
    /// CNTK's ResNet-18 (the ImageNet backbone of ML.NET's DnnImageFeaturizer.ResNet18): torchvision's resnet18 with a
    /// third basic block in layer4 (22 convolutions instead of 20), otherwise the same layers, strides and names.
    /// </summary>
    public static ResNet resnet18_cntk(long inChannels = 3, long classes = 1000) => new(false, [2, 2, 2, 3], inChannels, classes);

    /// <summary>A ResNet by its registry name (resnet18, resnet34, resnet50, resnet18_cntk) without its head: a detection backbone.</summary>
    public static ResNet Backbone(string name, long inChannels = 3) => name switch
    {
        "resnet18" => new(false, [2, 2, 2, 2], inChannels, includeHead: false),
        "resnet34" => new(false, [3, 4, 6, 3], inChannels, includeHead: false),
        "resnet50" => new(true, [3, 4, 6, 3], inChannels, includeHead: false),
        "resnet18_cntk" => new(false, [2, 2, 2, 3], inChannels, includeHead: false),
        _ => throw new ArgumentException($"unknown ResNet '{name}': resnet18, resnet34, resnet50 or resnet18_cntk", nameof(name)),
    };

    public bool Bottlenecked { get; }
    /// <summary>Blocks per stage (layer1..layer4), e.g. [2, 2, 2, 2] for ResNet-18.</summary>
    public IReadOnlyList<int> StageBlocks { get; }
    /// <summary>Channels of the pooled features the head sees (512, or 2048 with bottlenecks).</summary>
    public long FeatureChannels { get; }
    /// <summary>Channels of layer1..layer4's outputs (what a feature pyramid takes).</summary>
    public long[] StageChannels => Bottlenecked ? [256, 512, 1024, 2048] : [64, 128, 256, 512];
    public Conv2d conv1 { get; }
    public BatchNorm2d bn1 { get; }
    public Sequential layer1 { get; }
    public Sequential layer2 { get; }
    public Sequential layer3 { get; }
    public Sequential layer4 { get; }
    private Linear? head;

    /// <summary>The classification head (absent from a backbone built without it).</summary>
    public Linear fc => head ?? throw new InvalidOperationException("this ResNet was built without its head (includeHead: false)");

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = forward_stages(input)[^1];
        h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
        return fc.call(h).MoveToOuterDisposeScope();
    }

    /// <summary>The outputs of layer1..layer4 (strides 4, 8, 16, 32), for detection heads and feature pyramids.</summary>
    public Tensor[] forward_stages(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.max_pool2d(nn.functional.relu(bn1.call(conv1.call(input))), 3, stride: 2, padding: 1);
        var c2 = layer1.call(h);
        var c3 = layer2.call(c2);
        var c4 = layer3.call(c3);
        var c5 = layer4.call(c4);
        return [c2.MoveToOuterDisposeScope(), c3.MoveToOuterDisposeScope(), c4.MoveToOuterDisposeScope(), c5.MoveToOuterDisposeScope()];
    }

    /// <summary>
    /// Replaces the head by a freshly initialised <c>Linear(FeatureChannels, classes)</c> on the model's device (the old
    /// head is disposed): fine-tuning to another class count after loading weights with
    /// <see cref="load_state_dict_except_fc"/> or a full state dict.
    /// </summary>
    public Linear replace_fc(long classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var old = fc;
        var fresh = nn.Linear(FeatureChannels, classes, device: old.weight.device, dtype: old.weight.dtype);
        fresh.requires_grad_(old.weight.requires_grad);
        head = this.Register("fc", fresh);
        old.Dispose();
        return fresh;
    }

    /// <summary>
    /// Loads a torchvision-named state dict (e.g. ImageNet weights with a 1000-class head) into everything but
    /// <c>fc</c>, which keeps its own values: the head of a model built for another class count. Every other key must be
    /// there with the model's shape, and no key may be foreign (a ResNet-50 file into a ResNet-18 throws). A 3-channel
    /// <c>conv1.weight</c> loads into a 1-channel model summed over colours: the grey model then gives what the colour
    /// model gives for the grey image repeated on three channels.
    /// </summary>
    public void load_state_dict_except_fc(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var scope = NewDisposeScope();
        var backbone = state.Where(kv => !IsHead(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (backbone.TryGetValue("conv1.weight", out var stem) && stem.dim() == 4 && stem.shape[1] == 3 && conv1.in_channels == 1)
            backbone["conv1.weight"] = stem.sum(1, keepdim: true);
        var own = state_dict().Keys.Where(k => !IsHead(k)).ToHashSet(StringComparer.Ordinal);
        var missing = own.Where(k => !backbone.ContainsKey(k)).ToList();
        var unexpected = backbone.Keys.Where(k => !own.Contains(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException($"the state dict does not fit this ResNet's backbone: missing {Few(missing)}; unexpected {Few(unexpected)}", nameof(state));
        this.LoadStateDict(backbone, strict: false); // shape mismatches throw before anything is copied
    }

    private static string Few(List<string> keys) => keys.Count == 0 ? "none" : string.Join(", ", keys.Take(5)) + (keys.Count > 5 ? $" (+{keys.Count - 5})" : "");

    private static bool IsHead(string key) => key.StartsWith("fc.", StringComparison.Ordinal);

    /// <summary>Stops gradients to every backbone module (<see cref="BackboneModules"/>); only <c>fc</c> trains.</summary>
    public ResNet freeze_backbone()
    {
        foreach (var name in BackboneModules) this.GetChild(name)!.requires_grad_(false);
        return this;
    }

    /// <summary>
    /// Progressive unfreezing from the top: makes <paramref name="stage"/> (a name of <see cref="BackboneModules"/> or
    /// <c>fc</c>) and every module after it trainable, e.g. <c>layer3</c> trains layer3, layer4 and fc.
    /// </summary>
    public ResNet unfreeze_from(string stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        string[] order = head is null ? [.. BackboneModules] : [.. BackboneModules, "fc"];
        var first = Array.IndexOf(order, stage);
        if (first < 0) throw new ArgumentException($"unknown stage '{stage}'; stages: {string.Join(", ", order)}", nameof(stage));
        foreach (var name in order[first..]) this.GetChild(name)!.requires_grad_(true);
        return this;
    }

    // torchvision's _make_layer: the first block takes the stride (and a projection shortcut where the shape changes).
    private static Sequential Stage(bool bottleneck, ref long channels, long planes, int blocks, long stride)
    {
        var stage = nn.Sequential();
        for (var k = 0; k < blocks; k++)
        {
            var s = k == 0 ? stride : 1;
            stage.append(bottleneck ? new Bottleneck(channels, planes, s) : new BasicBlock(channels, planes, s));
            channels = planes * (bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion);
        }
        return stage;
    }
}
