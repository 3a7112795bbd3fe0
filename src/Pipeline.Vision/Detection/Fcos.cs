using TorchSharp;
using Pipeline.Vision.Models;
using static TorchSharp.torch;
using Pipeline.Vision.Ops;
using ops = TorchSharp.torchvision.ops;

namespace Pipeline.Vision.Detection;

/// <summary>What an FCOS detector is built for and how it turns its outputs into detections (torchvision's defaults).</summary>
public sealed record FcosOptions
{
    /// <summary>Object classes (no background class: FCOS scores each class with its own sigmoid).</summary>
    public long Classes { get; init; } = 10;
    public long InChannels { get; init; } = 3;
    /// <summary>resnet18, resnet34 or resnet50.</summary>
    public string Backbone { get; init; } = "resnet50";
    /// <summary>Channels of the pyramid and the head (a multiple of 32: the head's GroupNorm has 32 groups).</summary>
    public long FpnChannels { get; init; } = 256;
    /// <summary>conv/GroupNorm/ReLU layers in each head tower.</summary>
    public int HeadConvs { get; init; } = 4;
    public double CenterSamplingRadius { get; init; } = 1.5;
    public double ScoreThreshold { get; init; } = 0.2;
    public double NmsThreshold { get; init; } = 0.6;
    public int DetectionsPerImage { get; init; } = 100;
    public int TopkCandidates { get; init; } = 1000;
}

/// <summary>Ground truth of one image: xyxy boxes (M, 4) in input pixels and their classes (M, int64).</summary>
public sealed record DetectionTarget(Tensor Boxes, Tensor Labels);

/// <summary>Detections of one image: xyxy boxes (K, 4) in input pixels, scores (K) and classes (K, int64), best first.</summary>
public sealed record Detections(Tensor Boxes, Tensor Scores, Tensor Labels) : IDisposable
{
    public void Dispose()
    {
        Boxes.Dispose();
        Scores.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// The head's outputs for a batch, per location of every pyramid level (fine first): class logits (N, L, C), box
/// distances (N, L, 4), centre-ness logits (N, L, 1), the locations' anchors (L, 4: a stride-sized box centred on the
/// location) and how many locations each level has.
/// </summary>
public sealed record FcosOutput(Tensor ClassLogits, Tensor BoxRegression, Tensor Centerness, Tensor Anchors, long[] LocationsPerLevel, (long H, long W) ImageSize)
    : IDisposable
{
    public void Dispose()
    {
        ClassLogits.Dispose();
        BoxRegression.Dispose();
        Centerness.Dispose();
        Anchors.Dispose();
    }
}

/// <summary>
/// FCOS (Tian et al., 2019), the anchor-free one-stage detector, as torchvision builds it: a ResNet body, a feature
/// pyramid P3..P7 (strides 8..128) with extra levels, and a shared head predicting per location class scores, the
/// distances to the box sides and centre-ness. Training matches each location to the smallest ground-truth box whose
/// centre region (radius 1.5 strides) and scale range it falls in, and sums focal, GIoU and centre-ness losses per
/// foreground location; inference scores sqrt(class x centre-ness), keeps the top candidates per level, decodes and
/// clips the boxes and runs class-wise NMS. Names: <c>backbone.body.*</c> (the ResNet), <c>backbone.fpn.*</c>,
/// <c>head.classification_head.*</c>, <c>head.regression_head.*</c>. Images come in normalised, any size.
/// </summary>
public sealed class Fcos : nn.Module<Tensor, FcosOutput>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public Fcos(FcosOptions options) : base(nameof(Fcos))
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.FpnChannels % 32 != 0) throw new ArgumentException("FpnChannels must be a multiple of 32 (GroupNorm with 32 groups)", nameof(options));
        Options = options;
        backbone = this.Register("backbone", new FcosBackbone(options.Backbone, options.InChannels, options.FpnChannels));
        head = this.Register("head", new FcosHead(options.FpnChannels, options.Classes, options.HeadConvs));
    }

    public FcosOptions Options { get; }
    public FcosBackbone backbone { get; }
    public FcosHead head { get; }

    /// <summary>Anchor side per level P3..P7 (torchvision's; equal to the strides at inputs divisible by 128).</summary>
    public static IReadOnlyList<long> AnchorSizes { get; } = [8, 16, 32, 64, 128];

    public override FcosOutput forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var features = backbone.call(input);
        var (logits, regression, centerness) = head.call(features);
        var (h, w) = (input.shape[2], input.shape[3]);
        var anchors = Anchors(features, h, w, input.device);
        return new FcosOutput(logits.MoveToOuterDisposeScope(), regression.MoveToOuterDisposeScope(), centerness.MoveToOuterDisposeScope(),
            anchors.MoveToOuterDisposeScope(), [.. features.Select(f => f.shape[2] * f.shape[3])], (h, w));
    }

    // torchvision's AnchorGenerator with one size and aspect ratio per level: a box of the level's size centred on
    // (x * stride, y * stride), stride = image size // feature size, locations row-major.
    private static Tensor Anchors(Tensor[] features, long height, long width, Device device)
    {
        var levels = new List<Tensor>();
        for (var l = 0; l < features.Length; l++)
        {
            var (fh, fw) = (features[l].shape[2], features[l].shape[3]);
            var (sy, sx) = (height / fh, width / fw);
            var half = AnchorSizes[l] / 2.0;
            var ys = arange(0, fh, dtype: ScalarType.Float32, device: device) * sy;
            var xs = arange(0, fw, dtype: ScalarType.Float32, device: device) * sx;
            var cy = ys.unsqueeze(1).expand(fh, fw).reshape(-1);
            var cx = xs.unsqueeze(0).expand(fh, fw).reshape(-1);
            levels.Add(stack([cx - half, cy - half, cx + half, cy + half], 1));
        }
        return cat(levels, 0);
    }

    /// <summary>
    /// torchvision's FCOS losses for a batch: <c>classification</c> (sigmoid focal loss over every location and class),
    /// <c>bbox_regression</c> (GIoU loss of the decoded boxes) and <c>bbox_ctrness</c> (BCE against the target
    /// centre-ness), each summed over foreground locations and divided by their count (at least 1).
    /// </summary>
    public Dictionary<string, Tensor> compute_loss(FcosOutput output, IReadOnlyList<DetectionTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count != output.ClassLogits.shape[0]) throw new ArgumentException($"{targets.Count} targets for {output.ClassLogits.shape[0]} images", nameof(targets));
        using var scope = NewDisposeScope();
        var anchors = output.Anchors;
        var classTargets = new List<Tensor>();
        var boxTargets = new List<Tensor>();
        var foreground = new List<Tensor>();
        using (no_grad())
        {
            foreach (var target in targets)
            {
                var matched = Match(anchors, target.Boxes.to(ScalarType.Float32, anchors.device), output.LocationsPerLevel);
                var isForeground = matched >= 0;
                var index = matched.clamp(min: 0);
                var gtBoxes = target.Boxes.shape[0] == 0 ? zeros_like(anchors) : target.Boxes.to(ScalarType.Float32, anchors.device).index_select(0, index);
                var gtLabels = target.Boxes.shape[0] == 0 ? zeros([anchors.shape[0]], int64, anchors.device) : target.Labels.to(anchors.device).index_select(0, index);
                var oneHot = nn.functional.one_hot(gtLabels, Options.Classes).to(ScalarType.Float32) * isForeground.unsqueeze(1);
                classTargets.Add(oneHot);
                boxTargets.Add(gtBoxes);
                foreground.Add(isForeground);
            }
        }
        var clsTarget = stack(classTargets, 0);
        var boxTarget = stack(boxTargets, 0);
        var fg = stack(foreground, 0);
        var normaliser = Math.Max(1, fg.sum().ToInt64());

        var classification = ops.sigmoid_focal_loss(output.ClassLogits, clsTarget, alpha: 0.25, gamma: 2.0, reduction: nn.Reduction.Sum) / normaliser;
        var batchAnchors = anchors.unsqueeze(0).expand_as(output.BoxRegression);
        var predicted = BoxLinearCoder.Decode(output.BoxRegression, batchAnchors);
        var regression = BoxOps.generalized_box_iou_loss(predicted[fg], boxTarget[fg], nn.Reduction.Sum) / normaliser;
        Tensor centernessTarget;
        using (no_grad())
        {
            var encoded = BoxLinearCoder.Encode(batchAnchors, boxTarget);
            var (l, t, r, b) = (encoded.select(2, 0), encoded.select(2, 1), encoded.select(2, 2), encoded.select(2, 3));
            centernessTarget = (minimum(l, r) / maximum(l, r) * (minimum(t, b) / maximum(t, b))).sqrt();
        }
        var centerness = nn.functional.binary_cross_entropy_with_logits(output.Centerness.squeeze(2)[fg], centernessTarget[fg], reduction: nn.Reduction.Sum) / normaliser;
        return new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["classification"] = classification.MoveToOuterDisposeScope(),
            ["bbox_regression"] = regression.MoveToOuterDisposeScope(),
            ["bbox_ctrness"] = centerness.MoveToOuterDisposeScope(),
        };
    }

    // Per location: the index of the ground-truth box it learns from, or -1 (torchvision's FCOS matching).
    private Tensor Match(Tensor anchors, Tensor gt, long[] perLevel)
    {
        var r = anchors.shape[0];
        if (gt.shape[0] == 0) return full([r], -1L, int64, anchors.device);
        var centres = (anchors.narrow(1, 0, 2) + anchors.narrow(1, 2, 2)) / 2;
        var sizes = anchors.select(1, 2) - anchors.select(1, 0);
        var gtCentres = (gt.narrow(1, 0, 2) + gt.narrow(1, 2, 2)) / 2;
        // Centre sampling: within radius x anchor size of the box centre (Chebyshev distance).
        var match = (centres.unsqueeze(1) - gtCentres.unsqueeze(0)).abs().amax(2) < sizes.unsqueeze(1) * Options.CenterSamplingRadius;
        var (x, y) = (centres.select(1, 0).unsqueeze(1), centres.select(1, 1).unsqueeze(1));
        var distances = stack([x - gt.select(1, 0), y - gt.select(1, 1), gt.select(1, 2) - x, gt.select(1, 3) - y], 2);
        match = match & (distances.amin(2) > 0);
        // Each level answers for a range of box scales: max distance in (4, 8) anchor sizes; the first level from 0, the last to infinity.
        var position = arange(0, r, dtype: int64, device: anchors.device);
        var lower = where(position < perLevel[0], 0.0, sizes * 4);
        var upper = where(position >= r - perLevel[^1], double.PositiveInfinity, sizes * 8);
        var farthest = distances.amax(2);
        match = match & (farthest > lower.unsqueeze(1)) & (farthest < upper.unsqueeze(1));
        // Of several candidate boxes, the smallest.
        var score = match.to(ScalarType.Float32) * (1e8 - ops.box_area(gt)).unsqueeze(0);
        var (best, index) = score.max(1);
        return where(best < 1e-5, -1L, index);
    }

    /// <summary>
    /// Detections per image: scores sqrt(sigmoid(class) x sigmoid(centre-ness)) above the threshold, the top candidates
    /// of each level, decoded and clipped to the image, then class-wise NMS and the best <c>DetectionsPerImage</c>.
    /// </summary>
    public IReadOnlyList<Detections> postprocess(FcosOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var scope = NewDisposeScope();
        using var grad = no_grad();
        var classes = Options.Classes;
        var results = new List<Detections>();
        for (var n = 0; n < output.ClassLogits.shape[0]; n++)
        {
            var (boxes, scores, labels) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
            long start = 0;
            foreach (var count in output.LocationsPerLevel)
            {
                var logits = output.ClassLogits[n].narrow(0, start, count);
                var regression = output.BoxRegression[n].narrow(0, start, count);
                var centerness = output.Centerness[n].narrow(0, start, count);
                var anchors = output.Anchors.narrow(0, start, count);
                start += count;
                // (locations, classes) scores; nonzero lists candidates row-major, as torchvision's flattened order.
                var levelScores = (logits.sigmoid() * centerness.sigmoid()).sqrt();
                var candidates = (levelScores > Options.ScoreThreshold).nonzero();
                var (location, label) = (candidates.select(1, 0), candidates.select(1, 1));
                var candidateScores = levelScores.flatten().index_select(0, location * classes + label);
                var (top, order) = candidateScores.topk((int)Math.Min(Options.TopkCandidates, candidateScores.shape[0]));
                var anchorIndex = location.index_select(0, order);
                var decoded = BoxLinearCoder.Decode(regression.index_select(0, anchorIndex), anchors.index_select(0, anchorIndex));
                boxes.Add(BoxOps.clip_boxes_to_image(decoded, output.ImageSize.H, output.ImageSize.W));
                scores.Add(top);
                labels.Add(label.index_select(0, order));
            }
            var (allBoxes, allScores, allLabels) = (cat(boxes, 0), cat(scores, 0), cat(labels, 0));
            var keep = BoxOps.batched_nms(allBoxes, allScores, allLabels, Options.NmsThreshold);
            keep = keep.narrow(0, 0, Math.Min(Options.DetectionsPerImage, keep.shape[0]));
            results.Add(new Detections(allBoxes.index_select(0, keep).MoveToOuterDisposeScope(), allScores.index_select(0, keep).MoveToOuterDisposeScope(),
                allLabels.index_select(0, keep).MoveToOuterDisposeScope()));
        }
        return results;
    }
}

/// <summary>torchvision's detection backbone: the ResNet <c>body</c> (no head) and the <c>fpn</c> over layer2..layer4 with P6/P7.</summary>
public sealed class FcosBackbone : nn.Module<Tensor, Tensor[]>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public FcosBackbone(string resnet, long inChannels, long channels) : base(nameof(FcosBackbone))
    {
        body = this.Register("body", ResNet.Backbone(resnet, inChannels));
        fpn = this.Register("fpn", new FeaturePyramidNetwork(body.StageChannels[1..], channels, extraP6P7: true));
    }

    public ResNet body { get; }
    public FeaturePyramidNetwork fpn { get; }

    public override Tensor[] forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var stages = body.forward_stages(input);
        return [.. fpn.call(stages[1..]).Select(t => t.MoveToOuterDisposeScope())];
    }
}

/// <summary>torchvision's BoxLinearCoder with normalize_by_size: box sides as distances from the anchor centre, in anchor sizes.</summary>
public static class BoxLinearCoder
{
    public static Tensor Encode(Tensor anchors, Tensor boxes)
    {
        ArgumentNullException.ThrowIfNull(anchors);
        ArgumentNullException.ThrowIfNull(boxes);
        using var scope = NewDisposeScope();
        var (a, b) = (anchors.unbind(-1), boxes.unbind(-1));
        var (cx, cy) = (0.5 * (a[0] + a[2]), 0.5 * (a[1] + a[3]));
        var (w, h) = (a[2] - a[0], a[3] - a[1]);
        return stack([(cx - b[0]) / w, (cy - b[1]) / h, (b[2] - cx) / w, (b[3] - cy) / h], -1).MoveToOuterDisposeScope();
    }

    public static Tensor Decode(Tensor codes, Tensor anchors)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentNullException.ThrowIfNull(anchors);
        using var scope = NewDisposeScope();
        var (a, c) = (anchors.to(codes.dtype).unbind(-1), codes.unbind(-1));
        var (cx, cy) = (0.5 * (a[0] + a[2]), 0.5 * (a[1] + a[3]));
        var (w, h) = (a[2] - a[0], a[3] - a[1]);
        return stack([cx - c[0] * w, cy - c[1] * h, cx + c[2] * w, cy + c[3] * h], -1).MoveToOuterDisposeScope();
    }
}
