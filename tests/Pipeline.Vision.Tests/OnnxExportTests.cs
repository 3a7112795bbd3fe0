using System.Globalization;
using Onnx;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Export;
using Pipeline.Vision.Models;
using Pipeline.Vision.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using ResNet = Pipeline.Vision.Models.ResNet;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

/// <summary>
/// Our models written as ONNX and run by ONNX Runtime give our outputs: ResNet-18, the default classifier (SmallCnn)
/// and FCOS (every level's class logits, box distances and centre-ness), for batches of 1 and 3 from one file (the
/// batch dimension is symbolic). Batch norm's running statistics and the norms' affine parameters are set to random
/// values first, so the export must carry them rather than their initial ones and zeros.
/// </summary>
[Collection(SeededCollection.Name)] // seeded: the same weights and inputs every run
public sealed class OnnxExportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>Random running statistics and affine parameters for every batch norm and group norm.</summary>
    private static void RandomiseNorms(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var module in model.modules())
        {
            if (module is BatchNorm2d bn)
            {
                bn.running_mean!.copy_(randn(bn.num_features) * 0.2);
                bn.running_var!.copy_(rand(bn.num_features) + 0.5);
                bn.weight.copy_(rand(bn.num_features) + 0.5);
                bn.bias!.copy_(randn(bn.num_features) * 0.1);
            }
            else if (module is GroupNorm gn)
            {
                gn.weight.copy_(rand(gn.weight.shape[0]) + 0.5);
                gn.bias!.copy_(randn(gn.weight.shape[0]) * 0.1);
            }
        }
    }

    /// <summary>Exports, then compares ONNX Runtime's outputs with ours for batches of 1 and 3; returns the outputs' names.</summary>
    private IReadOnlyCollection<string> ExportAndCompare(nn.Module model, long channels, long height, long width)
    {
        var path = folder.File("model.onnx");
        OnnxExporter.Save(model, channels, path);
        using var onnx = new OnnxModelSession(path);
        foreach (var batch in new long[] { 1, 3 })
        {
            using var scope = NewDisposeScope();
            var input = randn(batch, channels, height, width);
            var comparison = OnnxVerification.Compare(onnx, model, input);
            foreach (var (name, diff) in comparison.PerOutput)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {batch} {name}: max |diff| {diff:E2}"));
                Assert.True(diff <= 1e-4, $"batch {batch}: ONNX Runtime's '{name}' differs from ours by {diff}");
            }
            Assert.Equal(onnx.OutputNames.Order(StringComparer.Ordinal), comparison.PerOutput.Keys.Order(StringComparer.Ordinal));
        }
        return [.. onnx.OutputNames];
    }

    [Fact]
    public void Resnet18_with_random_batch_norm_statistics_gives_our_logits_in_onnx_runtime()
    {
        manual_seed(0);
        using var model = ResNet.resnet18(3, 10);
        RandomiseNorms(model);
        model.eval();
        Assert.Equal([OnnxExporter.LogitsName], ExportAndCompare(model, 3, 64, 64));
    }

    [Theory]
    [InlineData("cnn6")]
    [InlineData("small_cnn")]
    public void Small_cnn_and_cnn6_give_our_logits_in_onnx_runtime(string name)
    {
        manual_seed(1);
        using var model = ModelRegistry.Create(name, new ModelSpec(1, 10));
        RandomiseNorms(model);
        model.eval();
        Assert.Equal([OnnxExporter.LogitsName], ExportAndCompare(model, 1, 28, 28));
    }

    [Fact]
    public void A_cifar_resnet_gives_our_logits_in_onnx_runtime()
    {
        manual_seed(2);
        using var model = ModelRegistry.Create("resnet20", new ModelSpec(3, 7, 8));
        RandomiseNorms(model);
        model.eval();
        ExportAndCompare(model, 3, 32, 32);
    }

    [Fact]
    public void Fcos_gives_our_class_box_and_centerness_outputs_per_level_in_onnx_runtime()
    {
        manual_seed(3);
        using var model = new Fcos(new FcosOptions { Backbone = "resnet18", Classes = 4, FpnChannels = 64 });
        RandomiseNorms(model);
        model.eval();
        // 80x96: C5 is 3x3 and C4 5x6, so the pyramid's nearest upsampling is by an uneven factor.
        var names = ExportAndCompare(model, 3, 80, 96);
        Assert.Equal(15, names.Count); // three outputs for each of P3..P7
        Assert.Contains("bbox_regression_p7", names);
    }

    [Fact]
    public void The_file_declares_opset_17_and_a_symbolic_batch()
    {
        manual_seed(4);
        using var model = ModelRegistry.Create("small_cnn", new ModelSpec(1, 3, 4));
        model.eval();
        var path = folder.File("small.onnx");
        OnnxExporter.Save(model, 1, path, new Dictionary<string, string> { ["classes"] = "a,b,c" });
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.Equal(OnnxExporter.Opset, proto.OpsetImport.Single().Version);
        var input = proto.Graph.Input.Single();
        Assert.Equal("batch", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(1, input.Type.TensorType.Shape.Dim[1].DimValue);
        // The state dict's names name the weights.
        Assert.Contains(proto.Graph.Initializer, t => t.Name == "features.0.0.weight");
        Assert.Contains(proto.Graph.Initializer, t => t.Name == "features.0.1.running_var");
        using var onnx = new OnnxModelSession(path);
        Assert.Equal("a,b,c", onnx.Metadata["classes"]);
    }

    [Fact]
    public void An_unknown_module_is_refused_by_its_name_and_type()
    {
        using var model = nn.Sequential(("stem", nn.Conv2d(1, 4, 3)), ("squash", nn.Tanh()), ("pool", nn.AdaptiveAvgPool2d(1)));
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(model, 1));
        Assert.Contains("'squash'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Tanh", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_verification_that_finds_a_difference_fails_naming_the_file_and_output()
    {
        manual_seed(5);
        using var model = ModelRegistry.Create("small_cnn", new ModelSpec(1, 3, 4));
        model.eval();
        var path = folder.File("stale.onnx");
        OnnxExporter.Save(model, 1, path);
        // The weights change after the export: the file no longer computes what the model does.
        using (no_grad())
            foreach (var p in model.parameters()) p.add_(0.5);
        using var input = randn(2, 1, 28, 28);
        var error = Assert.Throws<OnnxMismatchException>(() => OnnxVerification.Verify(path, model, input));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("'logits'", error.Message, StringComparison.Ordinal);
    }
}
