using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Detection;

/// <summary>
/// Turns detection set items into detector input: uint8 images gathered, moved to the device, scaled to [0, 1],
/// optionally mirrored left-right (boxes along), normalised per channel as the recipe says; boxes and classes as targets.
/// </summary>
public sealed class DetectionBatcher : IDisposable
{
    private readonly Device device;
    private readonly Tensor mean;
    private readonly Tensor std;

    public DetectionBatcher(InputRecipe input, long channels, Device device)
    {
        ArgumentNullException.ThrowIfNull(input);
        this.device = device;
        mean = ChannelTensor(input.Mean, channels, "input.mean", device);
        std = ChannelTensor(input.Std, channels, "input.std", device);
    }

    /// <summary>Images (B, C, H, W) normalised on the device and their targets; with <paramref name="flips"/>, each image
    /// is mirrored with p = 0.5. The tensors join the current dispose scope.</summary>
    public (Tensor Images, List<DetectionTarget> Targets) Batch(DetectionTensorDataset data, ReadOnlySpan<long> indices, Random? flips = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var images = data.Images.index_select(0, tensor(indices.ToArray())).to(device).to(ScalarType.Float32) / 255;
        var width = data.Width;
        var mirrored = new bool[indices.Length];
        var targets = new List<DetectionTarget>(indices.Length);
        for (var k = 0; k < indices.Length; k++)
        {
            mirrored[k] = flips is not null && flips.NextDouble() < 0.5;
            // Crowd regions are no training targets: a single box over many objects would teach the wrong extent.
            var boxes = data.BoxesOf(indices[k]).Where(b => !b.IsCrowd).ToList();
            var coordinates = new float[boxes.Count * 4];
            for (var j = 0; j < boxes.Count; j++)
            {
                var box = boxes[j];
                var (x1, x2) = mirrored[k] ? (width - box.X2, width - box.X1) : (box.X1, box.X2);
                (coordinates[4 * j], coordinates[4 * j + 1], coordinates[4 * j + 2], coordinates[4 * j + 3]) = ((float)x1, (float)box.Y1, (float)x2, (float)box.Y2);
            }
            targets.Add(new DetectionTarget(tensor(coordinates, [boxes.Count, 4]).to(device), tensor(boxes.Select(x => (long)x.ClassId).ToArray()).to(device)));
        }
        if (mirrored.Any(m => m))
        {
            var mask = tensor(mirrored.Select(m => m ? 1f : 0f).ToArray(), [indices.Length, 1, 1, 1], device: device);
            images = images.flip(-1) * mask + images * (1 - mask);
        }
        return (Normalize(images), targets);
    }

    /// <summary>uint8 or [0, 1] float images (B, C, H, W) normalised on the device (uint8 is scaled first).</summary>
    public Tensor Normalize(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var x = images.dtype == ScalarType.Byte ? images.to(device).to(ScalarType.Float32) / 255 : images.to(device);
        return (x - mean) / std;
    }

    private static Tensor ChannelTensor(double[] values, long channels, string key, Device device)
    {
        if (values.Length != 1 && values.Length != channels) throw new ArgumentException($"{key} has {values.Length} values for {channels} channels");
        var perChannel = Enumerable.Range(0, (int)channels).Select(c => (float)values[values.Length == 1 ? 0 : c]).ToArray();
        return tensor(perChannel, [1, channels, 1, 1]).to(device).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        mean.Dispose();
        std.Dispose();
    }
}

/// <summary>
/// The FCOS detector as a detect recipe builds it, and its evaluation the way the recipe trained it (same input
/// normalisation, no augmentation): used after every epoch by <see cref="DetectionTrainer"/>, and by the evaluator
/// service on checkpoints and the best model.
/// </summary>
public static class DetectionEvaluation
{
    /// <summary>A new (untrained) detector for <paramref name="classes"/> classes and <paramref name="channels"/> input channels.</summary>
    public static Fcos CreateModel(Recipe recipe, int classes, long channels)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var d = recipe.Detection;
        return new Fcos(new FcosOptions
        {
            Classes = classes, InChannels = channels, Backbone = recipe.Model.Name, FpnChannels = d.FpnChannels, HeadConvs = d.HeadConvs,
            ScoreThreshold = d.ScoreThreshold, NmsThreshold = d.NmsThreshold, DetectionsPerImage = d.DetectionsPerImage,
        });
    }

    /// <summary>The recipe's detector with the weights of <paramref name="weightsFile"/> (safetensors), on <paramref name="device"/>, in eval mode.</summary>
    public static Fcos LoadModel(Recipe recipe, int classes, long channels, string weightsFile, Device device)
    {
        var model = CreateModel(recipe, classes, channels);
        try
        {
            using (var scope = NewDisposeScope())
                model.LoadStateDict(SafeTensors.Load(weightsFile));
            model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>COCO metrics and the mean loss of <paramref name="model"/> on <paramref name="data"/> (no augmentation).</summary>
    public static (DetectionReport Report, double Loss) Evaluate(Recipe recipe, Fcos model, DetectionBatcher batcher, DetectionTensorDataset data, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batcher);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("the set to evaluate on is empty", nameof(data));
        var evaluator = new DetectionEvaluator(data.Classes, recipe.Detection.DetectionsPerImage);
        double lossSum = 0;
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var grad = no_grad();
            var order = Enumerable.Range(0, (int)data.Count).Select(i => (long)i).ToArray();
            for (var start = 0; start < order.Length; start += recipe.BatchSize)
            {
                using var scope = NewDisposeScope();
                var indices = order.AsSpan(start, Math.Min(recipe.BatchSize, order.Length - start));
                var (images, targets) = batcher.Batch(data, indices);
                using var output = Forward(model, images);
                lossSum += TotalLoss(model, output, targets).ToDouble() * indices.Length;
                var detections = model.postprocess(output);
                for (var k = 0; k < indices.Length; k++)
                {
                    // Crowd regions as pycocotools treats them: detections inside count neither as hits nor as false alarms.
                    var truth = data.BoxesOf(indices[k]);
                    evaluator.Add(truth, ToScoredBoxes(detections[k]), [.. truth.Select(b => b.IsCrowd)]);
                }
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return (evaluator.Report(), lossSum / data.Count);
    }

    /// <summary>The network's outputs in float32 (a bf16 copy's are cast up), for the losses and decoding.</summary>
    public static FcosOutput Forward(nn.Module<Tensor, FcosOutput> model, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (!model.training && images.shape[0] == 1)
        {
            // In eval mode an image's output depends on it alone (batch norm uses running statistics, group norm each
            // image's own), but the engine, like PyTorch, refuses a group norm of one value per group, which one image
            // gives at a 1x1 top pyramid level with one channel per group (fpn_channels 32): it runs as a pair of copies.
            using var pair = Forward(model, cat([images, images], 0));
            return new FcosOutput(pair.ClassLogits.narrow(0, 0, 1), pair.BoxRegression.narrow(0, 0, 1), pair.Centerness.narrow(0, 0, 1),
                pair.Anchors.narrow(0, 0, pair.Anchors.shape[0]), pair.LocationsPerLevel, pair.ImageSize);
        }
        var raw = model.call(images);
        if (raw.ClassLogits.dtype == ScalarType.Float32) return raw;
        using (raw)
            return new FcosOutput(raw.ClassLogits.to(ScalarType.Float32), raw.BoxRegression.to(ScalarType.Float32), raw.Centerness.to(ScalarType.Float32),
                raw.Anchors.to(ScalarType.Float32), raw.LocationsPerLevel, raw.ImageSize);
    }

    /// <summary>The sum of FCOS's classification, box regression and centre-ness losses.</summary>
    public static Tensor TotalLoss(Fcos model, FcosOutput output, IReadOnlyList<DetectionTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parts = model.compute_loss(output, targets);
        return parts["classification"] + parts["bbox_regression"] + parts["bbox_ctrness"];
    }

    /// <summary>One image's detections as scored boxes (pixels of the model's input), best first.</summary>
    public static ScoredBox[] ToScoredBoxes(Detections detections)
    {
        ArgumentNullException.ThrowIfNull(detections);
        var boxes = detections.Boxes.cpu().ToArray<float>();
        var scores = detections.Scores.cpu().to(ScalarType.Float32).ToArray<float>();
        var labels = detections.Labels.cpu().ToArray<long>();
        var result = new ScoredBox[scores.Length];
        for (var j = 0; j < scores.Length; j++)
            result[j] = new ScoredBox(new BoundingBox(boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2], boxes[4 * j + 3], (int)labels[j]), scores[j]);
        return result;
    }
}
