using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Pipeline.Vision.Export;

/// <summary>
/// Builds one ONNX graph: float32 initializers from TorchSharp tensors (named as the state dict names them, each
/// added once however often a shared module is applied), nodes with unique names and the attributes ONNX's operators
/// take, inputs and outputs with a symbolic batch dimension.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto graph = new() { Name = "pipeline" };
    private readonly HashSet<string> initializers = new(StringComparer.Ordinal);
    private int counter;

    public GraphProto Graph => graph;

    /// <summary>A float32 NCHW (or any rank) input; dimensions named in <paramref name="dims"/> are symbolic, the others fixed.</summary>
    public string Input(string name, params object[] dims)
    {
        graph.Input.Add(ValueInfo(name, dims));
        return name;
    }

    /// <summary>Names <paramref name="value"/> as a graph output (through an Identity node, so any value can be one).</summary>
    public void Output(string value, string name, params object[] dims)
    {
        graph.Node.Add(new NodeProto { OpType = "Identity", Name = $"{name}_out", Input = { value }, Output = { name } });
        graph.Output.Add(ValueInfo(name, dims));
    }

    /// <summary>The tensor as a float32 initializer named <paramref name="name"/> (copied to the CPU); added once per name.</summary>
    public string Weight(string name, Tensor tensor)
    {
        if (!initializers.Add(name)) return name;
        using var cpu = tensor.detach().to(ScalarType.Float32, CPU).contiguous();
        var values = cpu.ToArray<float>();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.AddRange(cpu.shape);
        graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>A float32 constant of the given shape and values (a generated name).</summary>
    public string Floats(string hint, long[] shape, float[] values)
    {
        var name = Unique(hint);
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.AddRange(shape);
        graph.Initializer.Add(proto);
        initializers.Add(name);
        return name;
    }

    /// <summary>A 1-D int64 constant (shapes, axes).</summary>
    public string Int64s(string hint, params long[] values)
    {
        var name = Unique(hint);
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        graph.Initializer.Add(proto);
        initializers.Add(name);
        return name;
    }

    /// <summary>Adds a node with one output; returns the output's name. An input of "" is an omitted optional input.</summary>
    public string Node(string op, string hint, string[] inputs, params AttributeProto[] attributes)
    {
        var output = Unique(hint);
        var node = new NodeProto { OpType = op, Name = output + "_" + op };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, double value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private string Unique(string hint) => $"{hint}_{counter++}";

    private static ValueInfoProto ValueInfo(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"a dimension is a name or a size, not {d.GetType().Name}", nameof(dims)),
            });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
