using System.Globalization;
using Google.Protobuf;
using Onnx;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using G = Pipeline.Vision.Export.OnnxGraphBuilder;
using ResNet = Pipeline.Vision.Models.ResNet;

namespace Pipeline.Vision.Export;

/// <summary>
/// Writes our models as ONNX graphs (opset <see cref="Opset"/>), node by node from their modules and state dicts, as the
/// model computes in eval mode: batch norm with its running statistics, dropout left out. Sequentials of known leaf
/// modules are walked generically (Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d(1), Flatten, Dropout,
/// Linear, GroupNorm), as are our composite modules (SmallCnn, BasicBlock, Bottleneck, ResNet, CifarResNet, and FCOS's
/// backbone, pyramid and head); any other module is refused with an error naming it. The input is <c>input</c>
/// (batch, channels, height, width) with a symbolic batch, height and width, normalised as the model was trained.
/// A classifier has one output, <c>logits</c> (batch, classes). FCOS has three raw outputs per pyramid level P3..P7:
/// <c>cls_logits_pN</c> (batch, H*W, classes), <c>bbox_regression_pN</c> (batch, H*W, 4: the distances to the box sides,
/// ReLU'd, in anchor sizes) and <c>bbox_ctrness_pN</c> (batch, H*W, 1), locations row-major; decoding and NMS stay ours.
/// </summary>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set the graphs use (ONNX Runtime 1.32 runs it).</summary>
    public const int Opset = 17;

    /// <summary>ONNX's IR version that goes with opset 17.</summary>
    public const long IrVersion = 8;

    /// <summary>The graph's input name.</summary>
    public const string InputName = "input";

    /// <summary>A classifier's output name.</summary>
    public const string LogitsName = "logits";

    /// <summary>Modules the exporter knows, for the error that names one it does not.</summary>
    public const string KnownModules = "Sequential, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d(1), Flatten(1), Dropout, Linear, GroupNorm, SmallCnn, BasicBlock, Bottleneck, ResNet, CifarResNet, Fcos";

    /// <summary>FCOS's output names of pyramid level <paramref name="level"/> (0 = P3).</summary>
    public static (string ClassLogits, string BoxRegression, string Centerness) DetectorOutputs(int level)
    {
        var p = (level + 3).ToString(CultureInfo.InvariantCulture);
        return ($"cls_logits_p{p}", $"bbox_regression_p{p}", $"bbox_ctrness_p{p}");
    }

    /// <summary>
    /// The model as an ONNX model: a classifier (<see cref="nn.Module{Tensor, Tensor}"/> of known modules) or an
    /// <see cref="Fcos"/> detector. <paramref name="inChannels"/> fixes the input's channel dimension; the metadata goes
    /// into the model's <c>metadata_props</c> (e.g. the classes and the input normalisation).
    /// </summary>
    public static ModelProto Export(nn.Module model, long inChannels, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        var g = new G();
        using (no_grad())
        {
            var input = g.Input(InputName, "batch", inChannels, "height", "width");
            if (model is Fcos fcos)
            {
                var levels = EmitFcos(g, fcos, input);
                for (var l = 0; l < levels.Count; l++)
                {
                    var names = DetectorOutputs(l);
                    g.Output(levels[l].Logits, names.ClassLogits, "batch", $"locations_p{l + 3}", fcos.Options.Classes);
                    g.Output(levels[l].Regression, names.BoxRegression, "batch", $"locations_p{l + 3}", 4);
                    g.Output(levels[l].Centerness, names.Centerness, "batch", $"locations_p{l + 3}", 1);
                }
            }
            else
            {
                var logits = Emit(g, model, "", input);
                g.Output(logits, LogitsName, "batch", "classes");
            }
        }
        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Pipeline",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = g.Graph,
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
        };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>Writes the model to <paramref name="path"/> (see <see cref="Export"/>).</summary>
    public static void Save(nn.Module model, long inChannels, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var proto = Export(model, inChannels, metadata);
        using var stream = File.Create(path);
        proto.WriteTo(stream);
    }

    private static string Child(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static nn.Module Get(nn.Module module, string path, string name) =>
        module.GetChild(name) ?? throw new NotSupportedException($"cannot export '{Child(path, name)}': {module.GetType().Name} has no child '{name}'");

    /// <summary>Emits <paramref name="module"/> applied to <paramref name="x"/>; returns its output's name.</summary>
    private static string Emit(G g, nn.Module module, string path, string x)
    {
        switch (module)
        {
            case Sequential or SmallCnn:
                // Children in registration order, each on the last one's output: what Sequential's forward (and SmallCnn's) does.
                foreach (var (name, child) in module.named_children()) x = Emit(g, child, Child(path, name), x);
                return x;
            case Conv2d conv:
                return EmitConv(g, conv, path, x);
            case BatchNorm2d bn:
                return EmitBatchNorm(g, bn, path, x);
            case ReLU:
                return g.Node("Relu", Hint(path, "relu"), [x]);
            case MaxPool2d pool:
                if (pool.ceil_mode) throw Refuse(path, module, "MaxPool2d with ceil_mode");
                return g.Node("MaxPool", Hint(path, "maxpool"), [x], G.Ints("kernel_shape", pool.kernel_size), G.Ints("strides", pool.stride ?? pool.kernel_size),
                    G.Ints("pads", Pads(pool.padding ?? [0, 0])), G.Ints("dilations", pool.dilation ?? [1, 1]));
            case AdaptiveAvgPool2d pool:
                if (pool.output_size.Any(s => s != 1)) throw Refuse(path, module, $"AdaptiveAvgPool2d to {string.Join("x", pool.output_size)} (only to 1x1)");
                return g.Node("GlobalAveragePool", Hint(path, "avgpool"), [x]);
            case Flatten flatten:
                if (flatten.start_dim != 1 || flatten.end_dim != -1) throw Refuse(path, module, $"Flatten({flatten.start_dim}, {flatten.end_dim}) (only Flatten(1, -1))");
                return g.Node("Flatten", Hint(path, "flatten"), [x], G.Int("axis", 1));
            case Dropout or Dropout2d:
                return x; // identity in eval mode
            case Linear linear:
                return EmitLinear(g, linear, path, x);
            case GroupNorm norm:
                return EmitGroupNorm(g, norm, path, x);
            case BasicBlock or Bottleneck:
                return EmitResidualBlock(g, module, path, x);
            case ResNet resnet:
            {
                var c5 = EmitResNetStages(g, resnet, path, x)[^1];
                var pooled = g.Node("GlobalAveragePool", Hint(path, "avgpool"), [c5]);
                var flat = g.Node("Flatten", Hint(path, "flatten"), [pooled], G.Int("axis", 1));
                return EmitLinear(g, resnet.fc, Child(path, "fc"), flat);
            }
            case CifarResNet cifar:
            {
                var h = g.Node("Relu", Hint(path, "relu"), [EmitBatchNorm(g, cifar.bn1, Child(path, "bn1"), EmitConv(g, cifar.conv1, Child(path, "conv1"), x))]);
                foreach (var (name, stage) in new[] { ("layer1", cifar.layer1), ("layer2", cifar.layer2), ("layer3", cifar.layer3) }) h = Emit(g, stage, Child(path, name), h);
                var pooled = g.Node("GlobalAveragePool", Hint(path, "avgpool"), [h]);
                var flat = g.Node("Flatten", Hint(path, "flatten"), [pooled], G.Int("axis", 1));
                return EmitLinear(g, cifar.fc, Child(path, "fc"), flat);
            }
            default:
                throw new NotSupportedException(
                    $"cannot export module '{(path.Length == 0 ? "(the model)" : path)}' of type {module.GetType().FullName} to ONNX: the exporter knows {KnownModules}");
        }
    }

    private static NotSupportedException Refuse(string path, nn.Module module, string what) =>
        new($"cannot export module '{(path.Length == 0 ? "(the model)" : path)}' ({module.GetType().Name}) to ONNX: {what} is not supported");

    private static string Hint(string path, string op) => path.Length == 0 ? op : path.Replace('.', '_');

    // ONNX pads: all the begins, then all the ends.
    private static long[] Pads(long[] padding) => [.. padding, .. padding];

    private static string EmitConv(G g, Conv2d conv, string path, string x)
    {
        if (conv.transposed) throw Refuse(path, conv, "a transposed convolution");
        if (conv.padding_mode != PaddingModes.Zeros) throw Refuse(path, conv, $"padding mode {conv.padding_mode}");
        if (conv.padding is not { } padding) throw Refuse(path, conv, $"padding '{conv.padding_type}'");
        string[] inputs = conv.bias is { } bias
            ? [g.Weight(Child(path, "weight"), conv.weight), g.Weight(Child(path, "bias"), bias)]
            : [g.Weight(Child(path, "weight"), conv.weight)];
        return g.Node("Conv", Hint(path, "conv"), [x, .. inputs], G.Ints("kernel_shape", conv.kernel_size), G.Ints("strides", conv.stride),
            G.Ints("pads", Pads(padding)), G.Ints("dilations", conv.dilation), G.Int("group", conv.groups));
    }

    private static string EmitBatchNorm(G g, BatchNorm2d bn, string path, string x)
    {
        if (bn.running_mean is not { } mean || bn.running_var is not { } variance) throw Refuse(path, bn, "batch norm without running statistics");
        var scale = bn.weight is { } w ? g.Weight(Child(path, "weight"), w) : g.Floats(Hint(path, "ones"), [bn.num_features], Filled(bn.num_features, 1));
        var shift = bn.bias is { } b ? g.Weight(Child(path, "bias"), b) : g.Floats(Hint(path, "zeros"), [bn.num_features], Filled(bn.num_features, 0));
        return g.Node("BatchNormalization", Hint(path, "bn"), [x, scale, shift, g.Weight(Child(path, "running_mean"), mean), g.Weight(Child(path, "running_var"), variance)],
            G.Float("epsilon", bn.eps));
    }

    private static string EmitLinear(G g, Linear linear, string path, string x)
    {
        string[] inputs = linear.bias is { } bias
            ? [x, g.Weight(Child(path, "weight"), linear.weight), g.Weight(Child(path, "bias"), bias)]
            : [x, g.Weight(Child(path, "weight"), linear.weight)];
        return g.Node("Gemm", Hint(path, "linear"), inputs, G.Int("transB", 1));
    }

    /// <summary>
    /// GroupNorm as PyTorch's own ONNX export writes it: the input reshaped to (N, groups, -1), normalised per row by
    /// InstanceNormalization (unit scale, zero shift), reshaped back, then the per-channel affine.
    /// </summary>
    private static string EmitGroupNorm(G g, GroupNorm norm, string path, string x)
    {
        var groups = norm.num_groups;
        var hint = Hint(path, "groupnorm");
        var grouped = g.Node("Reshape", hint, [x, g.Int64s(hint + "_grouped", 0, groups, -1)]);
        var normalised = g.Node("InstanceNormalization", hint, [grouped, g.Floats(hint + "_ones", [groups], Filled(groups, 1)), g.Floats(hint + "_zeros", [groups], Filled(groups, 0))],
            G.Float("epsilon", norm.eps));
        var shape = g.Node("Shape", hint, [x]);
        var back = g.Node("Reshape", hint, [normalised, shape]);
        if (norm.weight is null) return back;
        var channels = norm.weight.shape[0];
        var perChannel = g.Int64s(hint + "_affine_shape", channels, 1, 1);
        var scale = g.Node("Reshape", hint, [g.Weight(Child(path, "weight"), norm.weight), perChannel]);
        var scaled = g.Node("Mul", hint, [back, scale]);
        if (norm.bias is not { } bias) return scaled;
        var shift = g.Node("Reshape", hint, [g.Weight(Child(path, "bias"), bias), perChannel]);
        return g.Node("Add", hint, [scaled, shift]);
    }

    private static float[] Filled(long count, float value)
    {
        var values = new float[count];
        Array.Fill(values, value);
        return values;
    }

    /// <summary>BasicBlock and Bottleneck: conv/bn pairs with ReLU between, plus the shortcut, then ReLU (their forward).</summary>
    private static string EmitResidualBlock(G g, nn.Module block, string path, string x)
    {
        var pairs = block is Bottleneck ? 3 : 2;
        var h = x;
        for (var k = 1; k <= pairs; k++)
        {
            var conv = (Conv2d)Get(block, path, $"conv{k}");
            var bn = (BatchNorm2d)Get(block, path, $"bn{k}");
            h = EmitBatchNorm(g, bn, Child(path, $"bn{k}"), EmitConv(g, conv, Child(path, $"conv{k}"), h));
            if (k < pairs) h = g.Node("Relu", Hint(path, $"relu{k}"), [h]);
        }
        var identity = block.GetChild("downsample") is { } downsample ? Emit(g, downsample, Child(path, "downsample"), x) : x;
        return g.Node("Relu", Hint(path, "out"), [g.Node("Add", Hint(path, "add"), [h, identity])]);
    }

    /// <summary>ResNet's stem and stages (<see cref="ResNet.forward_stages"/>): the outputs of layer1..layer4.</summary>
    private static string[] EmitResNetStages(G g, ResNet resnet, string path, string x)
    {
        var h = g.Node("Relu", Hint(path, "relu"), [EmitBatchNorm(g, resnet.bn1, Child(path, "bn1"), EmitConv(g, resnet.conv1, Child(path, "conv1"), x))]);
        h = Emit(g, Get(resnet, path, "maxpool"), Child(path, "maxpool"), h);
        var stages = new string[4];
        Sequential[] layers = [resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4];
        for (var k = 0; k < 4; k++) stages[k] = h = Emit(g, layers[k], Child(path, $"layer{k + 1}"), h);
        return stages;
    }

    /// <summary>FCOS's backbone (ResNet body, FPN with P6/P7) and head per level, as <see cref="Fcos.forward"/>.</summary>
    private static List<(string Logits, string Regression, string Centerness)> EmitFcos(G g, Fcos fcos, string x)
    {
        var stages = EmitResNetStages(g, fcos.backbone.body, "backbone.body", x);
        var features = EmitPyramid(g, fcos.backbone.fpn, "backbone.fpn", stages[1..]);
        var head = fcos.head;
        var levels = new List<(string, string, string)>();
        foreach (var feature in features)
        {
            const string cls = "head.classification_head", reg = "head.regression_head";
            var clsTower = Emit(g, head.classification_head.conv, cls + ".conv", feature);
            var logits = PerLocation(g, EmitConv(g, head.classification_head.cls_logits, cls + ".cls_logits", clsTower), head.classification_head.Classes, "cls_logits");
            var regTower = Emit(g, head.regression_head.conv, reg + ".conv", feature);
            var distances = g.Node("Relu", "bbox_reg_relu", [EmitConv(g, head.regression_head.bbox_reg, reg + ".bbox_reg", regTower)]);
            var regression = PerLocation(g, distances, 4, "bbox_regression");
            var centerness = PerLocation(g, EmitConv(g, head.regression_head.bbox_ctrness, reg + ".bbox_ctrness", regTower), 1, "bbox_ctrness");
            levels.Add((logits, regression, centerness));
        }
        return levels;
    }

    /// <summary>(N, K, H, W) to (N, H*W, K), locations row-major (<c>FcosHead.PerLocation</c> with one anchor per location).</summary>
    private static string PerLocation(G g, string map, long perLocation, string hint)
    {
        var transposed = g.Node("Transpose", hint, [map], G.Ints("perm", 0, 2, 3, 1));
        return g.Node("Reshape", hint, [transposed, g.Int64s(hint + "_shape", 0, -1, perLocation)]);
    }

    /// <summary>The feature pyramid's forward: laterals, nearest top-down upsampling to each lateral's size, outputs, P6/P7.</summary>
    private static string[] EmitPyramid(G g, FeaturePyramidNetwork fpn, string path, string[] inputs)
    {
        if (inputs.Length != fpn.inner_blocks.Count) throw new NotSupportedException($"cannot export '{path}': {inputs.Length} inputs for {fpn.inner_blocks.Count} levels");
        var n = inputs.Length;
        string Inner(int k, string x) => Emit(g, fpn.inner_blocks[k], $"{path}.inner_blocks.{k}", x);
        string Layer(int k, string x) => Emit(g, fpn.layer_blocks[k], $"{path}.layer_blocks.{k}", x);
        var last = Inner(n - 1, inputs[^1]);
        var results = new List<string> { Layer(n - 1, last) };
        for (var k = n - 2; k >= 0; k--)
        {
            var lateral = Inner(k, inputs[k]);
            // PyTorch's nearest: source index floor(dst * in / out), which ONNX's asymmetric/floor nearest is.
            var size = g.Node("Concat", "fpn_size", [g.Node("Shape", "fpn_nc", [last], G.Int("start", 0), G.Int("end", 2)), g.Node("Shape", "fpn_hw", [lateral], G.Int("start", 2))],
                G.Int("axis", 0));
            var topDown = g.Node("Resize", "fpn_upsample", [last, "", "", size], G.String("mode", "nearest"),
                G.String("coordinate_transformation_mode", "asymmetric"), G.String("nearest_mode", "floor"));
            last = g.Node("Add", "fpn_merge", [lateral, topDown]);
            results.Insert(0, Layer(k, last));
        }
        if (fpn.extra_blocks is { } extra)
        {
            var extraPath = $"{path}.extra_blocks";
            var p6 = EmitConv(g, extra.p6, extraPath + ".p6", extra.UseP5 ? results[^1] : inputs[^1]);
            var p7 = EmitConv(g, extra.p7, extraPath + ".p7", g.Node("Relu", "p6_relu", [p6]));
            results.Add(p6);
            results.Add(p7);
        }
        return [.. results];
    }
}
