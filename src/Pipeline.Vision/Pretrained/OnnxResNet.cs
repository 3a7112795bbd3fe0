using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using Pipeline.Vision.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Vision.Pretrained;

/// <summary>What an imported ONNX ResNet's graph held besides its weights.</summary>
/// <param name="StageBlocks">Basic blocks per stage, as found in the graph.</param>
/// <param name="Convolutions">Conv nodes mapped (every one the graph has).</param>
/// <param name="BatchNorms">BatchNormalization nodes mapped.</param>
/// <param name="Notes">How the graph's layers differ from our ResNet's where the results are the same (padding, pooling, channel order).</param>
public sealed record OnnxResNetImport(IReadOnlyList<int> StageBlocks, int Convolutions, int BatchNorms, IReadOnlyList<string> Notes);

/// <summary>The mean subtraction an ONNX preprocessing graph applies: RGB to BGR, then minus a per-pixel mean image.</summary>
/// <param name="ChannelMeansRgb">The mean image's average per channel, in RGB order, on the 0-255 scale.</param>
/// <param name="Height">The mean image's height (the backbone's input size).</param>
/// <param name="Width">The mean image's width.</param>
public sealed record OnnxMeanSubtraction(IReadOnlyList<double> ChannelMeansRgb, int Height, int Width);

/// <summary>
/// Reads an ImageNet ResNet with basic blocks from an ONNX file (OnnxSharp's protobuf types) into our <see cref="ResNet"/>:
/// the graph is walked from its input (Conv, BatchNormalization, Relu, MaxPool; per block Conv, BN, Relu, Conv, BN,
/// Add with the identity or a 1x1 projection, Relu; a final average pool), so that weights are mapped by their place in
/// the graph, not by their names (a CNTK export names them <c>Parameter91</c>, <c>Constant98</c>). Every node must be
/// accounted for and every layer must compute what ours computes; anything else is an error naming the file and the node.
/// </summary>
public static class OnnxResNet
{
    /// <summary>Parses an ONNX file; a file that is not one is an <see cref="InvalidDataException"/> naming it.</summary>
    public static ModelProto ReadModel(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such ONNX file", path);
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: not an ONNX model (its protobuf does not parse: {e.Message})", e);
        }
        // Protobuf reads many byte strings as some message: an ONNX model has an IR version and a graph with nodes.
        if (model.IrVersion <= 0 || model.Graph is null || model.Graph.Node.Count == 0)
            throw new InvalidDataException($"{path}: not an ONNX model (no IR version or no graph nodes)");
        return model;
    }

    /// <summary>
    /// Copies the ResNet of <paramref name="path"/> into <paramref name="model"/>'s backbone (everything but <c>fc</c>,
    /// which keeps its values). The graph's stages must have the model's block counts and the model must take 3
    /// channels. The ONNX model takes BGR: <c>conv1.weight</c> is reversed over its input channels, so that the model
    /// takes RGB like every other model here (with the same per-channel normalisation, in RGB order).
    /// </summary>
    public static OnnxResNetImport LoadInto(string path, ResNet model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Bottlenecked) throw new ArgumentException("only basic-block ResNets (ResNet-18/34 shapes) are read from ONNX", nameof(model));
        if (model.conv1.in_channels != 3) throw new ArgumentException($"the model takes {model.conv1.in_channels} channels; an ImageNet backbone takes 3", nameof(model));
        using var scope = NewDisposeScope();
        var walk = new GraphWalk(path, ReadModel(path).Graph);
        var (weights, import) = walk.Run();
        if (!import.StageBlocks.SequenceEqual(model.StageBlocks))
            throw new InvalidDataException($"{path}: the graph's stages have [{string.Join(", ", import.StageBlocks)}] basic blocks, the model's [{string.Join(", ", model.StageBlocks)}]");
        // The graph takes BGR; our models take RGB.
        weights["conv1.weight"] = weights["conv1.weight"].flip(1);
        var own = model.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal) && !kv.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var missing = own.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"{path}: the graph does not map onto the model: missing {string.Join(", ", missing.DefaultIfEmpty("none"))}; unexpected {string.Join(", ", unexpected.DefaultIfEmpty("none"))}");
        foreach (var (key, value) in weights)
        {
            if (!own[key].shape.SequenceEqual(value.shape))
                throw new InvalidDataException($"{path}: {key} is [{string.Join(", ", value.shape)}] in the graph, [{string.Join(", ", own[key].shape)}] in the model");
        }
        model.LoadStateDict(weights, strict: false);
        return import with { Notes = [.. import.Notes, "input channels: BGR in the graph; conv1.weight reversed over its input channels, so the model takes RGB"] };
    }

    /// <summary>
    /// Reads a preprocessing graph of the shape ML.NET's ResNetPreprocess.onnx has (Split into R, G, B; Concat as B, G,
    /// R; Sub of a [1, 3, H, W] mean image) and returns the mean image's per-channel averages in RGB order.
    /// </summary>
    public static OnnxMeanSubtraction ReadMeanSubtraction(string path)
    {
        var graph = ReadModel(path).Graph;
        InvalidDataException Problem(string problem) => new($"{path}: not a mean-subtraction preprocessing graph: {problem}");
        var ops = string.Join(", ", graph.Node.Select(n => n.OpType));
        if (ops != "Split, Concat, Sub") throw Problem($"expected the nodes Split, Concat, Sub, found {ops}");
        var (split, concat, sub) = (graph.Node[0], graph.Node[1], graph.Node[2]);
        if (graph.Input.Count != 1 || split.Input.Count != 1 || split.Input[0] != graph.Input[0].Name || split.Output.Count != 3 || IntAttribute(split, "axis", 0) != 1)
            throw Problem("the Split must take the graph's input apart over its 3 channels");
        if (IntAttribute(concat, "axis", 0) != 1 || !concat.Input.SequenceEqual(split.Output.Reverse()))
            throw Problem("the Concat must put the channels back in reversed (BGR) order");
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        if (sub.Input.Count != 2 || sub.Input[0] != concat.Output[0] || !initializers.TryGetValue(sub.Input[1], out var meanProto) || graph.Output.Count != 1 || graph.Output[0].Name != sub.Output[0])
            throw Problem("the Sub must subtract an initializer from the BGR image and give the graph's output");
        using var scope = NewDisposeScope();
        var mean = ToTensor(meanProto, path);
        if (mean.dim() != 4 || mean.shape[0] != 1 || mean.shape[1] != 3)
            throw Problem($"the mean image {meanProto.Name} is [{string.Join(", ", mean.shape)}], not [1, 3, H, W]");
        var bgr = mean.mean([0L, 2L, 3L]).to(float64).ToArray<double>();
        return new OnnxMeanSubtraction([bgr[2], bgr[1], bgr[0]], (int)mean.shape[2], (int)mean.shape[3]);
    }

    /// <summary>A float initializer as a tensor (float_data or raw little-endian bytes).</summary>
    internal static Tensor ToTensor(TensorProto proto, string path)
    {
        if (proto.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"{path}: initializer {proto.Name} has data type {proto.DataType}, not float");
        var dims = proto.Dims.ToArray();
        var count = dims.Aggregate(1L, (a, d) => a * d);
        float[] values = proto.FloatData.Count > 0 ? [.. proto.FloatData] : MemoryMarshal.Cast<byte, float>(proto.RawData.Span).ToArray();
        if (values.LongLength != count)
            throw new InvalidDataException($"{path}: initializer {proto.Name} has {values.LongLength} values for its shape [{string.Join(", ", dims)}]");
        return tensor(values, dims);
    }

    private static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    // One pass over the graph from its input; every node it accepts is marked, and the graph must have no other.
    private sealed class GraphWalk(string path, GraphProto graph)
    {
        private readonly Dictionary<string, TensorProto> initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        private readonly Dictionary<string, List<NodeProto>> consumers = ConsumersOf(graph);
        private readonly HashSet<NodeProto> visited = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, Tensor> weights = new(StringComparer.Ordinal);
        private int asymmetricPads, convolutions, batchNorms;

        public (Dictionary<string, Tensor> Weights, OnnxResNetImport Import) Run()
        {
            var inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).ToList();
            if (inputs.Count != 1) throw Problem($"expected one image input, found {inputs.Count} ({string.Join(", ", inputs.Select(i => i.Name))})");
            var dims = inputs[0].Type?.TensorType?.Shape?.Dim.Select(d => d.DimValue).ToArray() ?? [];
            if (dims.Length != 4 || dims[1] != 3) throw Problem($"the input {inputs[0].Name} is not an image batch [N, 3, H, W]");
            var notes = new List<string>();

            // The stem: 7x7/2 convolution, batch norm, ReLU, 3x3/2 max pool.
            var conv = Next(inputs[0].Name, "Conv");
            Conv(conv, "conv1", 3, 64, 7, 2, 3);
            var bn = Next(conv.Output[0], "BatchNormalization");
            BatchNorm(bn, "bn1", 64);
            var pool = Next(Next(bn.Output[0], "Relu").Output[0], "MaxPool");
            CheckWindow(pool, 3, 2, 1);
            var x = pool.Output[0];

            var stages = new List<int>();
            long channels = 64;
            while (FinalPool(x) is null)
            {
                var (output, outChannels, stride) = Block(x, channels, stages);
                if (stages.Count == 0 || stride != 1 || outChannels != channels)
                {
                    if (stages.Count == 4) throw Problem($"a fifth stage starts at {x}");
                    stages.Add(0);
                }
                stages[^1]++;
                // The block's weights were read under a provisional name: move them to layerS.B.
                Rename($"layer{stages.Count}.{stages[^1] - 1}.");
                (x, channels) = (output, outChannels);
            }
            if (stages.Count != 4) throw Problem($"expected 4 stages, found {stages.Count}");
            var final = FinalPool(x)!;
            visited.Add(final);
            if (final.OpType == "AveragePool")
            {
                // CNTK exports global pooling as a fixed window: it is global when the window is the final map (input / 32).
                var kernel = Ints(final, "kernel_shape");
                if (dims[2] <= 0 || dims[3] <= 0 || kernel.Length != 2 || kernel[0] != dims[2] / 32 || kernel[1] != dims[3] / 32 || Ints(final, "pads").Any(p => p != 0))
                    throw Problem($"the final {final.OpType} {final.Name} (window [{string.Join(", ", kernel)}]) is not a global average over layer4's output for a [{dims[2]}, {dims[3]}] input");
                notes.Add(string.Create(CultureInfo.InvariantCulture, $"final pooling: a {kernel[0]}x{kernel[1]} AveragePool, global for the graph's {dims[2]}x{dims[3]} input (ours: adaptive average pooling, global at any size)"));
            }
            if (graph.Output.Count != 1 || graph.Output[0].Name != final.Output[0]) throw Problem($"the final pooling's output {final.Output[0]} is not the graph's only output");
            var left = graph.Node.Where(n => !visited.Contains(n)).ToList();
            if (left.Count > 0) throw Problem($"{left.Count} nodes are not part of a ResNet: {string.Join(", ", left.Take(5).Select(n => $"{n.OpType} {n.Name}"))}");
            if (asymmetricPads > 0)
                notes.Add($"padding: {asymmetricPads} stride-2 layers pad one less at the bottom and right than at the top and left (CNTK's 'same' padding); for even input sizes that padding is never read, so the results equal torchvision's symmetric padding");
            notes.Add("batch norm: epsilon 1e-5 everywhere (torchvision's)");
            return (weights, new OnnxResNetImport(stages, convolutions, batchNorms, notes));
        }

        // The names read in Block until it is known which stage the block belongs to.
        private const string Pending = "pending.";

        private void Rename(string prefix)
        {
            foreach (var key in weights.Keys.Where(k => k.StartsWith(Pending, StringComparison.Ordinal)).ToList())
            {
                weights[prefix + key[Pending.Length..]] = weights[key];
                weights.Remove(key);
            }
        }

        // A basic block: conv3x3(stride) BN ReLU conv3x3 BN, plus the identity or a 1x1(stride) projection with BN, Add, ReLU.
        private (string Output, long Channels, long Stride) Block(string x, long inChannels, List<int> stages)
        {
            var users = Users(x);
            var convs = users.Where(n => n.OpType == "Conv").ToList();
            var main = convs.Where(n => Ints(n, "kernel_shape") is [3, 3]).ToList();
            var projection = convs.Where(n => Ints(n, "kernel_shape") is [1, 1]).ToList();
            var adds = users.Where(n => n.OpType == "Add").ToList();
            if (main.Count != 1 || projection.Count > 1 || adds.Count > 1 || main.Count + projection.Count + adds.Count != users.Count)
                throw Problem($"{x} (stage {Math.Max(stages.Count, 1)}) feeds {Describe(users)}, not a basic block (a 3x3 Conv with the identity or a 1x1 Conv shortcut)");
            var conv1 = main[0];
            visited.Add(conv1);
            var outChannels = WeightShape(conv1)[0];
            var stride = Ints(conv1, "strides") is [var s, _] ? s : 1;
            Conv(conv1, Pending + "conv1", inChannels, outChannels, 3, stride, 1);
            var bn1 = Next(conv1.Output[0], "BatchNormalization");
            BatchNorm(bn1, Pending + "bn1", outChannels);
            var conv2 = Next(Next(bn1.Output[0], "Relu").Output[0], "Conv");
            Conv(conv2, Pending + "conv2", outChannels, outChannels, 3, 1, 1);
            var bn2 = Next(conv2.Output[0], "BatchNormalization");
            BatchNorm(bn2, Pending + "bn2", outChannels);
            var add = Next(bn2.Output[0], "Add");
            string shortcut;
            if (projection.Count == 1)
            {
                visited.Add(projection[0]);
                Conv(projection[0], Pending + "downsample.0", inChannels, outChannels, 1, stride, 0);
                var bn = Next(projection[0].Output[0], "BatchNormalization");
                BatchNorm(bn, Pending + "downsample.1", outChannels);
                if (!ReferenceEquals(Next(bn.Output[0], "Add"), add)) throw Problem($"the shortcut of {conv1.Name} does not join its block's Add {add.Name}");
                shortcut = bn.Output[0];
            }
            else
            {
                if (adds.Count != 1 || !ReferenceEquals(adds[0], add)) throw Problem($"the identity of {x} does not join its block's Add {add.Name}");
                if (stride != 1 || outChannels != inChannels) throw Problem($"{conv1.Name} changes the shape (stride {stride}, {inChannels} to {outChannels} channels) but its block has no projection shortcut");
                shortcut = x;
            }
            if (add.Input.Count != 2 || !add.Input.Contains(bn2.Output[0]) || !add.Input.Contains(shortcut))
                throw Problem($"{add.Name} does not add the block's two paths");
            return (Next(add.Output[0], "Relu").Output[0], outChannels, stride);
        }

        private NodeProto? FinalPool(string x) =>
            Users(x) is [{ OpType: "AveragePool" or "GlobalAveragePool" } pool] ? pool : null;

        private void Conv(NodeProto node, string key, long inChannels, long outChannels, long kernel, long stride, long pad)
        {
            if (node.Input.Count != 2) throw Problem($"Conv {node.Name} has a bias (our ResNet's convolutions have none)");
            var shape = WeightShape(node);
            if (!shape.SequenceEqual([outChannels, inChannels, kernel, kernel]))
                throw Problem($"Conv {node.Name}'s weight {node.Input[1]} is [{string.Join(", ", shape)}], expected [{outChannels}, {inChannels}, {kernel}, {kernel}]");
            if (IntAttribute(node, "group", 1) != 1 || Ints(node, "dilations").Any(d => d != 1)) throw Problem($"Conv {node.Name} is grouped or dilated");
            CheckWindow(node, kernel, stride, pad);
            weights[key + ".weight"] = ToTensor(initializers[node.Input[1]], path);
            convolutions++;
        }

        // Kernel, stride and padding as ours: the same leading pads; the trailing ones may be one less at stride 2.
        private void CheckWindow(NodeProto node, long kernel, long stride, long pad)
        {
            if (Ints(node, "kernel_shape") is not [var kh, var kw] || kh != kernel || kw != kernel)
                throw Problem($"{node.OpType} {node.Name} has window [{string.Join(", ", Ints(node, "kernel_shape"))}], expected {kernel}x{kernel}");
            var strides = Ints(node, "strides");
            if (!(strides.Length == 0 ? [1L, 1L] : strides).SequenceEqual([stride, stride]))
                throw Problem($"{node.OpType} {node.Name} has strides [{string.Join(", ", strides)}], expected {stride}");
            if (node.Attribute.FirstOrDefault(a => a.Name == "auto_pad") is { } auto && auto.S.ToStringUtf8() is not ("NOTSET" or ""))
                throw Problem($"{node.OpType} {node.Name} pads automatically ({auto.S.ToStringUtf8()})");
            var pads = Ints(node, "pads");
            if (pads.Length == 0) pads = [0, 0, 0, 0];
            if (pads.Length != 4 || pads[0] != pad || pads[1] != pad)
                throw Problem($"{node.OpType} {node.Name} pads [{string.Join(", ", pads)}], expected {pad} before each spatial axis");
            var symmetric = pads[2] == pad && pads[3] == pad;
            var oneLess = stride == 2 && pad > 0 && pads[2] == pad - 1 && pads[3] == pad - 1;
            if (!symmetric && !oneLess) throw Problem($"{node.OpType} {node.Name} pads [{string.Join(", ", pads)}], which no symmetric padding of {pad} reproduces");
            if (oneLess) asymmetricPads++;
        }

        private void BatchNorm(NodeProto node, string key, long channels)
        {
            if (node.Input.Count != 5 || node.Input.Skip(1).Any(i => !initializers.ContainsKey(i)))
                throw Problem($"BatchNormalization {node.Name} does not take its scale, bias, mean and variance as initializers");
            var epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon") is { } e ? e.F : 1e-5f;
            if (Math.Abs(epsilon - 1e-5) > 1e-9) throw Problem($"BatchNormalization {node.Name} has epsilon {epsilon.ToString(CultureInfo.InvariantCulture)}, ours 1e-5");
            if (IntAttribute(node, "spatial", 1) != 1) throw Problem($"BatchNormalization {node.Name} is not spatial (per channel)");
            string[] names = ["weight", "bias", "running_mean", "running_var"];
            for (var k = 0; k < 4; k++)
            {
                var value = ToTensor(initializers[node.Input[k + 1]], path);
                if (!value.shape.SequenceEqual([channels])) throw Problem($"BatchNormalization {node.Name}'s {names[k]} {node.Input[k + 1]} is [{string.Join(", ", value.shape)}], expected [{channels}]");
                weights[$"{key}.{names[k]}"] = value;
            }
            batchNorms++;
        }

        private long[] WeightShape(NodeProto conv) =>
            conv.Input.Count >= 2 && initializers.TryGetValue(conv.Input[1], out var w) ? [.. w.Dims]
                : throw Problem($"Conv {conv.Name}'s weight is not an initializer");

        // The single node reading `tensor`, which must be an `op`.
        private NodeProto Next(string tensor, string op)
        {
            var users = Users(tensor);
            if (users.Count != 1 || users[0].OpType != op) throw Problem($"after {tensor} expected one {op}, found {Describe(users)}");
            visited.Add(users[0]);
            return users[0];
        }

        private List<NodeProto> Users(string tensor) => consumers.TryGetValue(tensor, out var list) ? list : [];

        private static string Describe(List<NodeProto> nodes) => nodes.Count == 0 ? "nothing" : string.Join(", ", nodes.Select(n => $"{n.OpType} {n.Name}"));

        private static long[] Ints(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : [];

        private InvalidDataException Problem(string problem) => new($"{path}: {problem}");

        private static Dictionary<string, List<NodeProto>> ConsumersOf(GraphProto graph)
        {
            var result = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
            foreach (var node in graph.Node)
            {
                foreach (var input in node.Input.Distinct())
                {
                    if (!result.TryGetValue(input, out var list)) result[input] = list = [];
                    list.Add(node);
                }
            }
            return result;
        }
    }
}
