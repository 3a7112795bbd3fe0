using System.Globalization;
using Pipeline.Vision.Detection;
using static TorchSharp.torch;

namespace Pipeline.Vision.Export;

/// <summary>What an export check found: the largest absolute difference per output, and overall.</summary>
public sealed record OnnxComparison(IReadOnlyDictionary<string, double> PerOutput)
{
    public double MaxAbsDiff => PerOutput.Count == 0 ? 0 : PerOutput.Values.Max();
}

/// <summary>An exported model that does not compute what its source model computes (the message names the file and output).</summary>
public sealed class OnnxMismatchException(string message) : Exception(message);

/// <summary>
/// Checks an exported ONNX model against the model it came from: both run the same batch (ONNX Runtime on the CPU,
/// TorchSharp in eval mode), and every output must agree within <see cref="Tolerance"/>.
/// </summary>
public static class OnnxVerification
{
    /// <summary>The largest absolute difference an export may show on any output value.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Our outputs under the names the exported graph gives them: a classifier's <c>logits</c>; FCOS's per-level
    /// <c>cls_logits_pN</c>, <c>bbox_regression_pN</c>, <c>bbox_ctrness_pN</c> (float32, on the CPU).
    /// </summary>
    public static Dictionary<string, Tensor> ReferenceOutputs(nn.Module model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        using var noGrad = no_grad();
        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        switch (model)
        {
            case Fcos fcos:
            {
                using var output = fcos.call(input);
                long start = 0;
                for (var l = 0; l < output.LocationsPerLevel.Length; l++)
                {
                    var count = output.LocationsPerLevel[l];
                    var names = OnnxExporter.DetectorOutputs(l);
                    outputs[names.ClassLogits] = output.ClassLogits.narrow(1, start, count).to(ScalarType.Float32, CPU).contiguous();
                    outputs[names.BoxRegression] = output.BoxRegression.narrow(1, start, count).to(ScalarType.Float32, CPU).contiguous();
                    outputs[names.Centerness] = output.Centerness.narrow(1, start, count).to(ScalarType.Float32, CPU).contiguous();
                    start += count;
                }
                break;
            }
            case nn.Module<Tensor, Tensor> classifier:
                outputs[OnnxExporter.LogitsName] = classifier.call(input).to(ScalarType.Float32, CPU).contiguous();
                break;
            default:
                throw new NotSupportedException($"cannot compare a {model.GetType().Name} with its ONNX export: a classifier or FCOS is expected");
        }
        return outputs;
    }

    /// <summary>Runs <paramref name="input"/> through both and compares every output the model has.</summary>
    public static OnnxComparison Compare(OnnxModelSession onnx, nn.Module model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var ours = ReferenceOutputs(model, input);
        using var cpu = input.to(ScalarType.Float32, CPU).contiguous();
        var theirs = onnx.Run(cpu.ToArray<float>(), cpu.shape);
        var diffs = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, expected) in ours)
        {
            if (!theirs.TryGetValue(name, out var actual)) throw new InvalidDataException($"the ONNX model has no output '{name}' (it has {string.Join(", ", theirs.Keys)})");
            if (!actual.Shape.SequenceEqual(expected.shape))
                throw new InvalidDataException($"the ONNX model's output '{name}' is ({string.Join(", ", actual.Shape)}), ours ({string.Join(", ", expected.shape)})");
            var values = expected.ToArray<float>();
            double max = 0;
            for (var k = 0; k < values.Length; k++)
            {
                var d = Math.Abs((double)values[k] - actual.Values[k]);
                // NaN anywhere is a failed check, not a small difference.
                max = double.IsNaN(d) ? double.PositiveInfinity : Math.Max(max, d);
            }
            diffs[name] = max;
        }
        return new OnnxComparison(diffs);
    }

    /// <summary>
    /// Exports <paramref name="model"/> in memory, loads the export in ONNX Runtime and checks it against the model on a
    /// random batch of 2 at <paramref name="height"/> x <paramref name="width"/>: the session to serve it with, or an
    /// <see cref="OnnxMismatchException"/> naming <paramref name="source"/> when any output differs by more than
    /// <see cref="Tolerance"/>.
    /// </summary>
    public static OnnxModelSession LoadChecked(nn.Module model, long channels, long height, long width, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        var onnx = new OnnxModelSession(Google.Protobuf.MessageExtensions.ToByteArray(OnnxExporter.Export(model, channels)), $"{source} (exported to ONNX)");
        try
        {
            using var scope = NewDisposeScope();
            var check = Compare(onnx, model, randn(2, channels, height, width));
            if (check.MaxAbsDiff > Tolerance)
                throw new OnnxMismatchException(string.Create(CultureInfo.InvariantCulture,
                    $"{source}: the model's ONNX export differs from it by up to {check.MaxAbsDiff:G3} on a random batch"));
            return onnx;
        }
        catch
        {
            onnx.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the file in ONNX Runtime and compares it with <paramref name="model"/> on <paramref name="input"/>; throws
    /// naming the file and the output when any value differs by more than <see cref="Tolerance"/>.
    /// </summary>
    public static OnnxComparison Verify(string path, nn.Module model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var onnx = new OnnxModelSession(path);
        var comparison = Compare(onnx, model, input);
        var worst = comparison.PerOutput.MaxBy(kv => kv.Value);
        if (worst.Value > Tolerance)
            throw new OnnxMismatchException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: ONNX Runtime's output '{worst.Key}' differs from ours by up to {worst.Value:G3} (tolerance {Tolerance:G1}) on a random batch of shape ({string.Join(", ", input.shape)})"));
        return comparison;
    }
}
