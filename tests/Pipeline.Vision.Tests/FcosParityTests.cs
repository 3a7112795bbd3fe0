using Pipeline.Vision;
using System.Globalization;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

/// <summary>
/// The FCOS detector against torchvision's (Reference/torchvision_fcos.py: ResNet-18 body, 64-channel FPN with P6/P7,
/// 4 classes): its state dict loads unrenamed; anchors, head outputs, the three losses and their gradients, and the
/// postprocessing (decoding, top-k, clipping, class-wise NMS) agree.
/// </summary>
public class FcosParityTests(ITestOutputHelper output)
{
    private static readonly Lazy<(Dictionary<string, Tensor> Weights, Dictionary<string, Tensor> Values, Dictionary<string, string> Meta)> Reference = new(() =>
    {
        var folder = TorchvisionReference.Run("torchvision_fcos.py", get_num_threads().ToString(CultureInfo.InvariantCulture));
        var weights = SafeTensors.Load(Path.Combine(folder, "weights.safetensors"));
        var values = SafeTensors.Load(Path.Combine(folder, "reference.safetensors"), out var meta);
        foreach (var t in weights.Values.Concat(values.Values)) t.DetachFromDisposeScope();
        return (weights, values, meta);
    });

    private static Tensor R(string key) => Reference.Value.Values[key];

    private static Fcos Torchvisions()
    {
        var model = new Fcos(new FcosOptions { Backbone = "resnet18", Classes = 4, FpnChannels = 64 });
        model.LoadStateDict(Reference.Value.Weights); // strict: every name as torchvision's
        return model;
    }

    private static DetectionTarget[] Targets() =>
        [new(R("t0_boxes"), R("t0_labels")), new(R("t1_boxes"), R("t1_labels"))];

    [Fact]
    public void State_dict_names_are_torchvisions()
    {
        using var scope = NewDisposeScope();
        using var model = new Fcos(new FcosOptions { Backbone = "resnet18", Classes = 4, FpnChannels = 64 });
        // The same names; TorchSharp's state_dict lists every parameter before the buffers (PyTorch: module by module).
        Assert.Equal(Reference.Value.Meta["state_dict"].Split(',').Order(StringComparer.Ordinal), model.state_dict().Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Anchors_head_outputs_losses_and_gradients_match()
    {
        using var scope = NewDisposeScope();
        using var model = Torchvisions();
        model.train();
        using var result = model.call(R("x"));
        Assert.Equal(Reference.Value.Meta["per_level"], string.Join(",", result.LocationsPerLevel));
        TensorAssert.Close(R("anchors"), result.Anchors, 0, 0, "anchors");
        foreach (var (key, actual) in new[] { ("cls_logits", result.ClassLogits), ("bbox_regression", result.BoxRegression), ("bbox_ctrness", result.Centerness) })
        {
            output.WriteLine($"{key}: max |diff| {TensorAssert.MaxAbsDiff(R(key), actual):E2}");
            TensorAssert.Close(R(key), actual, 1e-5, 1e-4, key);
        }
        var losses = model.compute_loss(result, Targets());
        Assert.Equal(["classification", "bbox_regression", "bbox_ctrness"], losses.Keys);
        foreach (var (key, loss) in losses)
        {
            output.WriteLine($"loss {key}: {loss.ToSingle()} vs {R($"loss/{key}").ToSingle()}");
            TensorAssert.Close(R($"loss/{key}"), loss, 1e-5, 1e-4, $"{key} loss");
        }
        // An image without objects: background everywhere, nothing to regress.
        using (no_grad())
            foreach (var (key, loss) in model.compute_loss(result, [Targets()[0], new DetectionTarget(zeros(0, 4), zeros([0], ScalarType.Int64))]))
                TensorAssert.Close(R($"loss_no_objects/{key}"), loss, 1e-5, 1e-4, $"{key} loss with an image without objects");
        (losses["classification"] + losses["bbox_regression"] + losses["bbox_ctrness"]).backward();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in Reference.Value.Meta["grads"].Split(','))
        {
            var expected = R($"grad/{name}");
            var scale = expected.abs().max().ToSingle();
            output.WriteLine($"grad {name}: max |diff| {TensorAssert.MaxAbsDiff(expected, parameters[name].grad!):E2} (scale {scale:E2})");
            TensorAssert.Close(expected, parameters[name].grad!, 1e-4 * scale, 1e-3, $"gradient of {name}");
        }

        model.eval();
        using (no_grad())
        using (var eval = model.call(R("x")))
            TensorAssert.Close(R("eval_cls_logits"), eval.ClassLogits, 1e-5, 1e-4, "eval-mode class logits");
    }

    [Fact]
    public void Postprocessing_gives_torchvisions_detections()
    {
        using var scope = NewDisposeScope();
        using var model = Torchvisions();
        using var shapes = model.call(R("x"));
        var head = new FcosOutput(R("pp_cls"), R("pp_reg"), R("pp_ctr"), shapes.Anchors, shapes.LocationsPerLevel, shapes.ImageSize);
        var detections = model.postprocess(head);
        Assert.Equal(2, detections.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(R($"det{i}_labels").ToArray<long>(), detections[i].Labels.ToArray<long>());
            TensorAssert.Close(R($"det{i}_scores"), detections[i].Scores, 1e-6, 1e-5, $"image {i} scores");
            TensorAssert.Close(R($"det{i}_boxes"), detections[i].Boxes, 1e-4, 1e-5, $"image {i} boxes");
        }
        Assert.Equal(100, detections[0].Scores.shape[0]); // capped at DetectionsPerImage
    }
}
