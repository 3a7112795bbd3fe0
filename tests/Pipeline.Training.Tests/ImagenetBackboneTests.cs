using Microsoft.ML.OnnxRuntime;
using OnnxTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using Onnx;
using Pipeline.Training.Data;
using Pipeline.Training.Recipes;
using Pipeline.Vision;
using Pipeline.Vision.Data;
using Pipeline.Vision.Models;
using Pipeline.Vision.Pretrained;
using Pipeline.Vision.Serialization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>Issue 16: the ImageNet ResNet-18 of ML.NET's NuGet package, imported from ONNX into our resnet18_cntk and
/// checked against ONNX Runtime running the same file.</summary>
public sealed class ImagenetBackboneTests(ITestOutputHelper output) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("imagenet-backbone-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static string OnnxFile => PretrainedBackbones.ImagenetResNet18Onnx;
    private static string PreprocessFile => PretrainedBackbones.ImagenetResNet18Preprocess;

    private static float[] RunOnnx(InferenceSession session, float[] input)
    {
        var dense = new OnnxTensor(input, [1, 3, 224, 224]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), dense)]);
        return [.. results.Single().AsEnumerable<float>()];
    }

    // Our backbone's pooled 512-d features (the head is not used), in eval mode.
    private static float[] OurFeatures(ResNet model, Tensor rgb)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return nn.functional.adaptive_avg_pool2d(model.forward_stages(rgb)[^1], 1).flatten().ToArray<float>();
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));

    [Fact]
    public void The_imported_backbone_gives_onnx_runtimes_features_for_the_same_preprocessed_images()
    {
        var file = Path.Combine(dir, "imagenet-resnet18.safetensors");
        var import = PretrainedBackbones.Import(PretrainedBackbones.ImagenetResNet18, file);
        // CNTK's ResNet-18: 22 convolutions (torchvision's has 20), the two extra ones a third block in layer4.
        Assert.Equal([2, 2, 2, 3], import.StageBlocks);
        Assert.Equal((22, 22), (import.Convolutions, import.BatchNorms));
        Assert.Contains(import.Notes, n => n.Contains("pad one less", StringComparison.Ordinal));

        using var scope = NewDisposeScope();
        using var model = (ResNet)ModelRegistry.Create("resnet18_cntk", new ModelSpec(3, 10));
        Assert.Equal(["fc.weight", "fc.bias"], PretrainedWeights.Load(model, file));
        model.eval();
        using var preprocess = new InferenceSession(PreprocessFile);
        using var network = new InferenceSession(OnnxFile);

        // Random RGB images on the 0-255 scale, preprocessed by the package's own ResNetPreprocess.onnx (BGR minus its
        // mean image); our model takes the same tensor back in RGB order.
        var random = new Random(16);
        var features = new List<float[]>();
        for (var k = 0; k < 3; k++)
        {
            var pixels = Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)random.Next(256)).ToArray();
            var bgr = RunOnnx(preprocess, pixels);
            var expected = RunOnnx(network, bgr);
            var ours = OurFeatures(model, tensor(bgr, [1, 3, 224, 224]).flip(1));
            Assert.Equal(512, expected.Length);
            output.WriteLine($"random image {k}: max abs diff {MaxAbsDiff(expected, ours):E2}, largest feature {expected.Max():F3}");
            Assert.True(MaxAbsDiff(expected, ours) <= 1e-4, $"random image {k}: max abs diff {MaxAbsDiff(expected, ours):E2}");
            features.Add(expected);
        }
        Assert.True(MaxAbsDiff(features[0], features[1]) > 1e-2, "different images gave the same features");

        // A real-ish image: a Fashion-MNIST photo as training from the backbone feeds it (224x224, grey on 3 channels,
        // 255 x minus the per-channel means); ONNX Runtime gets the same tensor in BGR order.
        var recipe = RecipeLoader.Load(null, ["model.pretrained=imagenet-resnet18"]);
        using var item = FashionSubset.Slice(7, 1);
        var (rgb, _) = new ImageBatcher(item, recipe.Input, CPU).Batch([0]);
        Assert.Equal([1L, 3, 224, 224], rgb.shape);
        var photo = RunOnnx(network, rgb.flip(1).contiguous().ToArray<float>());
        var mine = OurFeatures(model, rgb);
        output.WriteLine($"Fashion-MNIST image: max abs diff {MaxAbsDiff(photo, mine):E2}, largest feature {photo.Max():F3}");
        Assert.True(MaxAbsDiff(photo, mine) <= 1e-4, $"the Fashion-MNIST image: max abs diff {MaxAbsDiff(photo, mine):E2}");
        Assert.True(photo.Max() > 0.1, "the photo's features are all near zero");
    }

    [Fact]
    public void The_backbones_normalisation_is_the_packages_mean_image_and_recipes_naming_it_get_its_model_and_input()
    {
        var mean = OnnxResNet.ReadMeanSubtraction(PreprocessFile);
        Assert.Equal((224, 224), (mean.Height, mean.Width));
        foreach (var (found, ours) in mean.ChannelMeansRgb.Zip(PretrainedBackbones.ImagenetMeanRgb255))
            Assert.True(Math.Abs(found - ours) < 1e-3, $"mean image channel average {found}, ours {ours}");

        var recipe = RecipeLoader.Load(null, ["model.pretrained=imagenet-resnet18", "input.size=[64, 64]"]);
        Assert.Equal("resnet18_cntk", recipe.Model.Name);
        Assert.Equal(3, recipe.Input.Channels);
        Assert.Equal([64, 64], recipe.Input.Size!);
        Assert.Equal(PretrainedBackbones.ImagenetMeanRgb255.Select(m => m / 255), recipe.Input.Mean);
        Assert.Equal([1.0 / 255], recipe.Input.Std);
        Assert.Equal([224, 224], RecipeLoader.Load(null, ["model.pretrained=imagenet-resnet18"]).Input.Size!);
        // The recipe as written for a run loads back the same.
        var written = Path.Combine(dir, "recipe.json");
        File.WriteAllText(written, RecipeWriter.ToJson(recipe));
        Assert.Equal(recipe.Input.Mean, RecipeLoader.Load(written).Input.Mean);

        // Grey Fashion-MNIST becomes what the backbone expects: resized, on three channels, 255 x minus each channel's mean.
        using var item = FashionSubset.Slice(3, 1);
        var (batch, _) = new ImageBatcher(item, recipe.Input, CPU).Batch([0]);
        using var grey = nn.functional.interpolate(item.Images.to(float32).div(255), size: [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);
        for (var c = 0; c < 3; c++)
        {
            var expected = (grey * 255 - PretrainedBackbones.ImagenetMeanRgb255[c]).flatten().ToArray<float>();
            Assert.True(MaxAbsDiff(expected, batch[0, c].flatten().ToArray<float>()) < 1e-3, $"channel {c}");
        }

        var wrongModel = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["model.pretrained=imagenet-resnet18", "model.name=resnet18"]));
        Assert.Equal("model.name", wrongModel.Key);
        Assert.Contains("resnet18_cntk", wrongModel.Message, StringComparison.Ordinal);
        var wrongStd = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["model.pretrained=imagenet-resnet18", "input.std=[0.5]"]));
        Assert.Equal("input.std", wrongStd.Key);
        var detect = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["task=detect", "input.size=[64, 64]", "model.name=resnet18", "model.pretrained=imagenet-resnet18"]));
        Assert.Equal("model.pretrained", detect.Key);
    }

    [Fact]
    public void A_named_backbone_is_imported_into_the_cache_on_first_use_only()
    {
        var cache = Path.Combine(dir, "cache");
        using var first = new StringWriter();
        var file = PretrainedBackbones.Resolve(PretrainedBackbones.ImagenetResNet18, cache, first);
        Assert.Equal(Path.Combine(cache, "imagenet-resnet18.safetensors"), file);
        Assert.Contains("first use, importing", first.ToString(), StringComparison.Ordinal);
        var written = File.GetLastWriteTimeUtc(file);
        var bytes = File.ReadAllBytes(file);

        using var second = new StringWriter();
        Assert.Equal(file, PretrainedBackbones.Resolve(PretrainedBackbones.ImagenetResNet18, cache, second));
        Assert.Equal($"pretrained imagenet-resnet18: {file}", second.ToString().Trim());
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal([file], Directory.GetFiles(cache));

        // What the file holds: the backbone under resnet18_cntk's names, conv1 taking RGB, no head.
        var weights = SafeTensors.Load(file, out var metadata);
        Assert.Equal("resnet18_cntk", metadata["model"]);
        Assert.Contains("layer4.2.conv2.weight", weights.Keys);
        Assert.DoesNotContain(weights.Keys, k => k.StartsWith("fc.", StringComparison.Ordinal));
        foreach (var w in weights.Values) w.Dispose();

        // Anything that is not a backbone name is a path, used as it is.
        Assert.Equal("/some/file.safetensors", PretrainedBackbones.Resolve("/some/file.safetensors", cache));
    }

    [Fact]
    public void A_corrupt_or_foreign_onnx_file_is_refused_naming_the_file_and_the_problem()
    {
        using var scope = NewDisposeScope();
        var output = Path.Combine(dir, "out.safetensors");
        InvalidDataException Refused(string onnx) =>
            Assert.Throws<InvalidDataException>(() => PretrainedBackbones.Import(PretrainedBackbones.ImagenetResNet18, output, onnxFile: onnx));

        var garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllBytes(garbage, [.. Enumerable.Range(0, 4096).Select(k => (byte)(k * 37 % 251))]);
        var e = Refused(garbage);
        Assert.StartsWith(garbage + ": not an ONNX model", e.Message, StringComparison.Ordinal);

        var truncated = Path.Combine(dir, "truncated.onnx");
        using (var source = File.OpenRead(OnnxFile))
        {
            var head = new byte[1 << 20];
            source.ReadExactly(head);
            File.WriteAllBytes(truncated, head);
        }
        e = Refused(truncated);
        Assert.StartsWith(truncated + ": not an ONNX model", e.Message, StringComparison.Ordinal);

        // A real ONNX model that is no ResNet: the package's preprocessing graph.
        e = Refused(PreprocessFile);
        Assert.StartsWith(PreprocessFile + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected one Conv, found Split", e.Message, StringComparison.Ordinal);

        // The ResNet with one batch norm changed to another epsilon: named by its node.
        var model = OnnxResNet.ReadModel(OnnxFile);
        var bn = model.Graph.Node.First(n => n.OpType == "BatchNormalization");
        bn.Attribute.Single(a => a.Name == "epsilon").F = 1e-3f;
        var changed = Path.Combine(dir, "epsilon.onnx");
        model.WriteToFile(changed);
        e = Refused(changed);
        Assert.StartsWith(changed + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains($"BatchNormalization {bn.Name} has epsilon 0.001", e.Message, StringComparison.Ordinal);

        // The right file into the wrong architecture: torchvision's resnet18 has two blocks in layer4.
        using var torchvision = ResNet.resnet18();
        e = Assert.Throws<InvalidDataException>(() => OnnxResNet.LoadInto(OnnxFile, torchvision));
        Assert.Equal($"{OnnxFile}: the graph's stages have [2, 2, 2, 3] basic blocks, the model's [2, 2, 2, 2]", e.Message);
        Assert.False(File.Exists(output), "a refused import wrote its output");
    }
}
