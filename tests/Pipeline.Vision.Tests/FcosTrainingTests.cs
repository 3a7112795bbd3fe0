using TorchSharp;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Pipeline.Vision.Ops;
using ops = TorchSharp.torchvision.ops;

namespace Pipeline.Vision.Tests;

/// <summary>The FCOS detector end to end on our own data: output shapes for any input size and class count, and overfitting a tiny generated set.</summary>
[Collection(SeededCollection.Name)] // seeded: the same initialisation every run
public class FcosTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void Outputs_cover_every_location_of_p3_to_p7_for_grey_input_of_any_size()
    {
        using var scope = NewDisposeScope();
        using var model = new Fcos(new FcosOptions { Backbone = "resnet18", Classes = 7, InChannels = 1, FpnChannels = 32, HeadConvs = 1 });
        using var result = model.call(randn(2, 1, 64, 80));
        // Strides 8, 16, 32 from the ResNet stages, then two stride-2 convolutions: 8x10, 4x5, 2x3, 1x2, 1x1.
        Assert.Equal([80L, 20, 6, 2, 1], result.LocationsPerLevel);
        Assert.Equal([2L, 109, 7], result.ClassLogits.shape);
        Assert.Equal([2L, 109, 4], result.BoxRegression.shape);
        Assert.Equal([2L, 109, 1], result.Centerness.shape);
        Assert.Equal([109L, 4], result.Anchors.shape);
        Assert.True(result.BoxRegression.min().ToSingle() >= 0, "box distances are non-negative");
        // The untrained head scores every class at the prior (0.01): nothing passes the default score threshold.
        Assert.All(model.postprocess(result), d => Assert.Equal(0, d.Scores.shape[0]));
        Assert.Throws<ArgumentException>(() => new Fcos(new FcosOptions { FpnChannels = 48 }));
    }

    [Fact]
    public void Training_on_a_few_generated_images_drives_the_loss_down_and_finds_the_objects()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        // Fashion-MNIST items pasted onto textured 64x64 canvases, one or two per image.
        var generator = new DetectionSetGenerator();
        var options = new DetectionSetOptions { Width = 64, Height = 64, MinObjects = 1, MaxObjects = 2, MinSide = 24, MaxSide = 40 };
        var random = new Random(7);
        var samples = Enumerable.Range(0, 4).Select(_ => generator.Compose(options, random)).ToList();
        var images = stack([.. samples.Select(s => s.Image.ToTensor().to(ScalarType.Float32) / 255)], 0);
        images = (images - 0.5) / 0.5;
        var targets = samples.Select(s => new DetectionTarget(
            tensor(s.Boxes.SelectMany(b => new[] { (float)b.X1, (float)b.Y1, (float)b.X2, (float)b.Y2 }).ToArray(), [s.Boxes.Count, 4]),
            tensor(s.Boxes.Select(b => (long)b.ClassId).ToArray()))).ToArray();

        using var model = new Fcos(new FcosOptions { Backbone = "resnet18", Classes = generator.Classes.Count, FpnChannels = 64, HeadConvs = 2 });
        using var optimizer = optim.Adam(model.parameters(), lr: 1e-3);
        model.train();
        var losses = new List<double>();
        Dictionary<string, float> last = [];
        for (var step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            using var result = model.call(images);
            var parts = model.compute_loss(result, targets);
            var loss = parts["classification"] + parts["bbox_regression"] + parts["bbox_ctrness"];
            loss.backward();
            optimizer.step();
            losses.Add(loss.ToSingle());
            last = parts.ToDictionary(p => p.Key, p => p.Value.ToSingle());
        }
        output.WriteLine($"loss: {string.Join(" ", losses.Where((_, k) => k % 5 == 0 || k == losses.Count - 1).Select(l => l.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        output.WriteLine(string.Join(", ", last.Select(p => $"{p.Key} {p.Value:F3}")));
        // The centre-ness term cannot fall below its targets' entropy (about 0.6 here); the others fall towards 0.
        Assert.True(losses[^1] < 0.4 * losses[0], $"loss fell from {losses[0]} to {losses[^1]} only");
        Assert.True(last["classification"] < 0.1 && last["bbox_regression"] < 0.15, "classification or box loss stayed high");

        // Memorised: each object is found with its class at IoU over 0.5 (eval mode: running batch-norm statistics).
        model.eval();
        using (no_grad())
        {
            using var result = model.call(images);
            var detections = model.postprocess(result);
            var found = 0;
            var objects = 0;
            for (var i = 0; i < samples.Count; i++)
            {
                objects += samples[i].Boxes.Count;
                if (detections[i].Boxes.shape[0] == 0) continue;
                var iou = ops.box_iou(targets[i].Boxes, detections[i].Boxes);
                for (var g = 0; g < samples[i].Boxes.Count; g++)
                {
                    var sameClass = detections[i].Labels.eq(samples[i].Boxes[g].ClassId);
                    if ((iou[g].gt(0.5) & sameClass).any().ToBoolean()) found++;
                }
            }
            output.WriteLine($"found {found} of {objects} objects");
            Assert.True(found >= objects - 1, $"found {found} of {objects} objects");
        }
    }
}
