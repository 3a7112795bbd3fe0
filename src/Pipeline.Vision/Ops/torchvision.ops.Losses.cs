using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision;

#pragma warning disable CA1707, IDE1006 // names follow torchvision
public static partial class torchvision
{
    public static partial class ops
    {
        /// <summary>
        /// RetinaNet's focal loss (Lin et al., 2017) on logits and binary (or soft) targets of the same shape: binary
        /// cross entropy scaled by (1 - p_t)^gamma, which fades the easy examples, and by alpha for positives (1 - alpha
        /// for negatives; a negative alpha turns the weighting off). Per element unless reduced.
        /// </summary>
        public static Tensor sigmoid_focal_loss(Tensor inputs, Tensor targets, double alpha = 0.25, double gamma = 2,
            nn.Reduction reduction = nn.Reduction.None)
        {
            ArgumentNullException.ThrowIfNull(inputs);
            ArgumentNullException.ThrowIfNull(targets);
            using var scope = NewDisposeScope();
            var p = inputs.sigmoid();
            var ce = nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction: nn.Reduction.None);
            var pT = p * targets + (1 - p) * (1 - targets);
            var loss = ce * (1 - pT).pow(gamma);
            if (alpha >= 0) loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss;
            return Reduce(loss, reduction).MoveToOuterDisposeScope();
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
}
#pragma warning restore CA1707, IDE1006
