using System.Numerics;
using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision;

#pragma warning disable CA1707, IDE1006 // names follow torchvision
/// <summary>torchvision's API over our engine, as <c>torchvision.ops</c> reads in Python.</summary>
public static partial class torchvision
{
    /// <summary>
    /// Box operators and detection losses of <c>torchvision.ops</c>. Boxes are (N, 4) in (x1, y1, x2, y2) unless a
    /// format is named; the tensor functions are differentiable and run on the boxes' device.
    /// </summary>
    public static partial class ops
    {
        /// <summary>Area of (N, 4) xyxy boxes: (x2 - x1) * (y2 - y1).</summary>
        public static Tensor box_area(Tensor boxes)
        {
            CheckBoxes(boxes, nameof(boxes));
            using var scope = NewDisposeScope();
            var c = boxes.unbind(-1);
            return ((c[2] - c[0]) * (c[3] - c[1])).MoveToOuterDisposeScope();
        }

        /// <summary>Pairwise intersection over union of (N, 4) and (M, 4) xyxy boxes: (N, M). Two zero-area boxes give NaN (0/0), as in torchvision.</summary>
        public static Tensor box_iou(Tensor boxes1, Tensor boxes2)
        {
            using var scope = NewDisposeScope();
            var (inter, union) = InterUnion(boxes1, boxes2);
            return (inter / union).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Pairwise generalized IoU (Rezatofighi et al., 2019): IoU minus the share of the smallest enclosing box that
        /// the union leaves empty; in [-1, 1]. (N, M).
        /// </summary>
        public static Tensor generalized_box_iou(Tensor boxes1, Tensor boxes2)
        {
            using var scope = NewDisposeScope();
            var (inter, union) = InterUnion(boxes1, boxes2);
            var iou = inter / union;
            var lt = minimum(boxes1.narrow(1, 0, 2).unsqueeze(1), boxes2.narrow(1, 0, 2));
            var rb = maximum(boxes1.narrow(1, 2, 2).unsqueeze(1), boxes2.narrow(1, 2, 2));
            var wh = (rb - lt).clamp(min: 0);
            var enclosing = wh.select(2, 0) * wh.select(2, 1);
            return (iou - (enclosing - union) / enclosing).MoveToOuterDisposeScope();
        }

        // Intersections and unions (N, M), computed as torchvision does so that rounding matches.
        private static (Tensor inter, Tensor union) InterUnion(Tensor boxes1, Tensor boxes2)
        {
            var area1 = box_area(boxes1);
            var area2 = box_area(boxes2);
            var lt = maximum(boxes1.narrow(1, 0, 2).unsqueeze(1), boxes2.narrow(1, 0, 2));
            var rb = minimum(boxes1.narrow(1, 2, 2).unsqueeze(1), boxes2.narrow(1, 2, 2));
            var wh = (rb - lt).clamp(min: 0);
            var inter = wh.select(2, 0) * wh.select(2, 1);
            return (inter, area1.unsqueeze(1) + area2 - inter);
        }

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
            var order = scores.detach().cpu().sort(0, descending: true, stable: true).indices.ToArray<long>();
            long[]? categories = idxs?.detach().cpu().to(int64).ToArray<long>();
            var kept = boxes.dtype == float64
                ? Kernel(boxes.detach().cpu().contiguous().ToArray<double>(), order, categories, threshold)
                : Kernel(boxes.detach().cpu().to(float32).contiguous().ToArray<float>(), order, categories, threshold);
            return tensor(kept, [kept.Length], boxes.device).MoveToOuterDisposeScope();
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
    }
}
#pragma warning restore CA1707, IDE1006
