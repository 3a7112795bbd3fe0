using System.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Ops;

#pragma warning disable CA1707, IDE1006 // names follow torchvision
/// <summary>
/// The <c>torchvision.ops</c> functions that TorchVision (TorchSharp's) lacks or does not give as torchvision does: its
/// <c>nms</c> visits equal scores in an unstable order (and there is no <c>batched_nms</c>), its GIoU loss's mean over no
/// boxes is NaN (torchvision's is 0), and it has no <c>clip_boxes_to_image</c> nor string box formats. The rest
/// (<c>box_area</c>, <c>box_iou</c>, <c>generalized_box_iou</c>, <c>sigmoid_focal_loss</c>) is TorchVision's. Boxes are
/// (N, 4) in (x1, y1, x2, y2) unless a format is named; the tensor functions are differentiable.
/// </summary>
public static class BoxOps
{
    /// <summary>
    /// Converts boxes (..., 4) between "xyxy" (corners), "xywh" (top-left corner, size) and "cxcywh" (centre, size).
    /// </summary>
    public static Tensor box_convert(Tensor boxes, string in_fmt, string out_fmt)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        CheckFormat(in_fmt, nameof(in_fmt));
        CheckFormat(out_fmt, nameof(out_fmt));
        if (in_fmt == out_fmt) return boxes.clone();
        using var scope = NewDisposeScope();
        var c = boxes.unbind(-1);
        // Through xyxy, as torchvision goes (the same arithmetic, the same rounding).
        Tensor[] xyxy = in_fmt switch
        {
            "xywh" => [c[0], c[1], c[0] + c[2], c[1] + c[3]],
            "cxcywh" => [c[0] - 0.5 * c[2], c[1] - 0.5 * c[3], c[0] + 0.5 * c[2], c[1] + 0.5 * c[3]],
            _ => c,
        };
        Tensor[] result = out_fmt switch
        {
            "xywh" => [xyxy[0], xyxy[1], xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]],
            "cxcywh" => [(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]],
            _ => xyxy,
        };
        return stack(result, -1).MoveToOuterDisposeScope();
    }

    private static void CheckFormat(string format, string name)
    {
        ArgumentNullException.ThrowIfNull(format, name);
        if (format is not ("xyxy" or "xywh" or "cxcywh"))
            throw new ArgumentException($"Unsupported box format '{format}': use xyxy, xywh or cxcywh", name);
    }

    /// <summary>Clips xyxy boxes (..., 4) to an image of (height, width).</summary>
    public static Tensor clip_boxes_to_image(Tensor boxes, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        using var scope = NewDisposeScope();
        var c = boxes.unbind(-1);
        return stack([c[0].clamp(0, width), c[1].clamp(0, height), c[2].clamp(0, width), c[3].clamp(0, height)], -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Non-maximum suppression: visits boxes from the highest score down (equal scores: lower index first) and drops
    /// every later box whose IoU with a kept one exceeds <paramref name="iou_threshold"/>. Returns the kept indices
    /// (int64) in decreasing score order, on the boxes' device. The same arithmetic as torchvision's CPU kernel, so the
    /// same boxes are kept.
    /// </summary>
    public static Tensor nms(Tensor boxes, Tensor scores, double iou_threshold) => Suppress(boxes, scores, null, iou_threshold);

    /// <summary>
    /// Non-maximum suppression within each category of <paramref name="idxs"/> (N, integers): boxes of different
    /// categories never suppress each other. Kept indices in decreasing score order (equal scores: lower index first).
    /// </summary>
    public static Tensor batched_nms(Tensor boxes, Tensor scores, Tensor idxs, double iou_threshold)
    {
        ArgumentNullException.ThrowIfNull(idxs);
        return Suppress(boxes, scores, idxs, iou_threshold);
    }

    private static Tensor Suppress(Tensor boxes, Tensor scores, Tensor? idxs, double threshold)
    {
        CheckBoxes(boxes, nameof(boxes));
        ArgumentNullException.ThrowIfNull(scores);
        var n = boxes.shape[0];
        if (scores.dim() != 1 || scores.shape[0] != n)
            throw new ArgumentException($"scores must be 1-D with one score per box ({n}), got shape [{string.Join(", ", scores.shape)}]", nameof(scores));
        if (idxs is not null && (idxs.dim() != 1 || idxs.shape[0] != n))
            throw new ArgumentException($"idxs must be 1-D with one category per box ({n}), got shape [{string.Join(", ", idxs.shape)}]", nameof(idxs));
        if (n == 0) return empty([0], int64, boxes.device);
        using var scope = NewDisposeScope();
        using var grad = no_grad();
        // libtorch's stable descending sort: the visiting order torchvision's kernel uses (NaN scores first).
        var order = scores.detach().cpu().sort(0, descending: true, stable: true).Indices.ToArray<long>();
        long[]? categories = idxs?.detach().cpu().to(int64).ToArray<long>();
        var kept = boxes.dtype == float64
            ? Kernel(boxes.detach().cpu().contiguous().ToArray<double>(), order, categories, threshold)
            : Kernel(boxes.detach().cpu().to(float32).contiguous().ToArray<float>(), order, categories, threshold);
        return tensor(kept, device: boxes.device).MoveToOuterDisposeScope();
    }

    // torchvision's CPU NMS loop in the boxes' precision; `categories` restricts suppression to boxes of one category.
    private static long[] Kernel<T>(T[] b, long[] order, long[]? categories, double threshold) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = order.Length;
        var areas = new T[n];
        for (var k = 0; k < n; k++) areas[k] = (b[4 * k + 2] - b[4 * k]) * (b[4 * k + 3] - b[4 * k + 1]);
        var suppressed = new bool[n];
        var keep = new List<long>();
        for (var oi = 0; oi < n; oi++)
        {
            var i = order[oi];
            if (suppressed[i]) continue;
            keep.Add(i);
            var (ix1, iy1, ix2, iy2, iarea) = (b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3], areas[i]);
            for (var oj = oi + 1; oj < n; oj++)
            {
                var j = order[oj];
                if (suppressed[j] || (categories is not null && categories[j] != categories[i])) continue;
                var w = Max(T.Zero, Min(ix2, b[4 * j + 2]) - Max(ix1, b[4 * j]));
                var h = Max(T.Zero, Min(iy2, b[4 * j + 3]) - Max(iy1, b[4 * j + 1]));
                var inter = w * h;
                var overlap = inter / (iarea + areas[j] - inter);
                if (double.CreateTruncating(overlap) > threshold) suppressed[j] = true;
            }
        }
        return [.. keep];
    }

    // std::max/std::min as the C++ kernel uses them (NaN handling included), not IEEE maximum.
    private static T Max<T>(T a, T b) where T : IFloatingPointIeee754<T> => a < b ? b : a;
    private static T Min<T>(T a, T b) where T : IFloatingPointIeee754<T> => b < a ? b : a;

    private static void CheckBoxes(Tensor boxes, string name)
    {
        ArgumentNullException.ThrowIfNull(boxes, name);
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"boxes must be (N, 4), got shape [{string.Join(", ", boxes.shape)}]", name);
    }

    /// <summary>
    /// 1 - GIoU of matched xyxy box pairs (N, 4) and (N, 4) (or single boxes (4)): a regression loss that still has a
    /// gradient when the boxes do not overlap. <paramref name="eps"/> guards the divisions. Per pair unless reduced.
    /// </summary>
    public static Tensor generalized_box_iou_loss(Tensor boxes1, Tensor boxes2, nn.Reduction reduction = nn.Reduction.None, double eps = 1e-7)
    {
        ArgumentNullException.ThrowIfNull(boxes1);
        ArgumentNullException.ThrowIfNull(boxes2);
        using var scope = NewDisposeScope();
        var b1 = UpcastNonFloat(boxes1).unbind(-1);
        var b2 = UpcastNonFloat(boxes2).unbind(-1);
        var (x1, y1, x2, y2) = (b1[0], b1[1], b1[2], b1[3]);
        var (x1g, y1g, x2g, y2g) = (b2[0], b2[1], b2[2], b2[3]);
        // Intersection only where both extents are positive (torchvision's mask: no gradient through empty ones).
        var (xi1, yi1, xi2, yi2) = (maximum(x1, x1g), maximum(y1, y1g), minimum(x2, x2g), minimum(y2, y2g));
        var overlaps = (yi2 > yi1) & (xi2 > xi1);
        var inter = where(overlaps, (xi2 - xi1) * (yi2 - yi1), 0);
        var union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter;
        var iou = inter / (union + eps);
        var enclosing = (maximum(x2, x2g) - minimum(x1, x1g)) * (maximum(y2, y2g) - minimum(y1, y1g));
        var loss = 1 - (iou - (enclosing - union) / (enclosing + eps));
        // torchvision's mean of nothing is 0 (with a graph), not NaN.
        if (reduction == nn.Reduction.Mean && loss.numel() == 0) return (loss.sum() * 0.0).MoveToOuterDisposeScope();
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }

    private static Tensor UpcastNonFloat(Tensor t) => t.dtype is ScalarType.Float32 or ScalarType.Float64 ? t.alias() : t.to(ScalarType.Float32);

    private static Tensor Reduce(Tensor loss, nn.Reduction reduction) => reduction switch
    {
        nn.Reduction.None => loss,
        nn.Reduction.Mean => loss.mean(),
        nn.Reduction.Sum => loss.sum(),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "reduction is none, mean or sum"),
    };
}
#pragma warning restore CA1707, IDE1006
