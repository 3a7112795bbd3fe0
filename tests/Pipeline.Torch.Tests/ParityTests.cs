using System.Globalization;
using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Every op, forward and gradient, against PyTorch on the same inputs (Reference/parity.py).</summary>
public class ParityTests
{
    private static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Reference => PyTorchReference.Run("parity.py");

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in ParityCases.All.Keys.Order(StringComparer.Ordinal)) data.Add(name);
        return data;
    }

    [Fact]
    public void Every_reference_case_has_an_implementation_and_vice_versa()
    {
        var reference = Reference.Tensors.Keys.Select(k => k[..k.IndexOf('/', StringComparison.Ordinal)]).ToHashSet();
        Assert.Equal(reference.Order(StringComparer.Ordinal), ParityCases.All.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Matches_pytorch(string name) => Check(name, Device.CPU, 1.0);

    /// <summary>
    /// The same cases with every input on the GPU, against the CPU reference. Tolerances are widened tenfold:
    /// cuDNN convolutions use TF32 and reductions run in another order.
    /// </summary>
    [CudaTheory]
    [MemberData(nameof(CudaCaseNames))]
    public void Matches_pytorch_on_cuda(string name) => Check(name, Device.CUDA(0), 10.0);

    /// <summary>Cases built only from their inputs (none creates a CPU tensor of its own), so they can run on any device.</summary>
    public static TheoryData<string> CudaCaseNames() =>
    [
        "add_broadcast", "sub_mul_div_scalar", "matmul", "unary_math", "reductions", "shape_ops", "comparisons",
        "nn_linear", "nn_conv2d", "nn_conv2d_stride_pad_groups", "nn_group_norm", "nn_layer_norm", "nn_activations",
        "nn_max_pool2d", "nn_avg_pool2d", "nn_adaptive_avg_pool2d", "nn_interpolate_bilinear", "softmax", "max_min",
    ];

    private static void Check(string name, Device device, double toleranceScale)
    {
        var (tensors, metadata) = Reference;
        var atol = double.Parse(metadata[$"{name}/atol"], CultureInfo.InvariantCulture) * toleranceScale;
        var rtol = double.Parse(metadata[$"{name}/rtol"], CultureInfo.InvariantCulture) * toleranceScale;
        var gradInputs = metadata[$"{name}/grad_inputs"].Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();

        using var scope = NewDisposeScope();
        var inputs = new Dictionary<string, Tensor>();
        Tensor Input(string key)
        {
            if (inputs.TryGetValue(key, out var t)) return t;
            t = tensors[$"{name}/in/{key}"].to(device, copy: true);
            if (gradInputs.Contains(key)) t.requires_grad = true;
            return inputs[key] = t;
        }

        var outputs = ParityCases.All[name](Input);
        var expectedOutputs = tensors.Keys.Where(k => k.StartsWith($"{name}/out/", StringComparison.Ordinal)).Select(k => k[(name.Length + 5)..]).ToHashSet();
        Assert.Equal(expectedOutputs.Order(StringComparer.Ordinal), outputs.Keys.Order(StringComparer.Ordinal));

        Tensor? loss = null;
        foreach (var (key, output) in outputs)
        {
            TensorAssert.Close(tensors[$"{name}/out/{key}"], output, atol, rtol, $"{name}: output '{key}'");
            Assert.Equal(device, output.device);
            if (tensors.TryGetValue($"{name}/w/{key}", out var w))
            {
                var term = (output * w.to(device)).sum();
                loss = loss is null ? term : loss + term;
            }
        }
        loss?.backward();
        foreach (var key in gradInputs)
        {
            if (!tensors.TryGetValue($"{name}/grad/{key}", out var expected)) continue;
            var actual = inputs[key].grad;
            Assert.True(actual is not null, $"{name}: input '{key}' got no gradient");
            TensorAssert.Close(expected, actual!, atol, rtol, $"{name}: gradient of '{key}'");
        }
    }
}
