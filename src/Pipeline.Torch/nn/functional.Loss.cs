using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        public static partial class functional
        {
            /// <summary>
            /// Cross entropy of logits (N, C, ...) against class indices (N, ...) or class probabilities (N, C, ...);
            /// targets equal to <paramref name="ignore_index"/> count neither in the sum nor in the mean's divisor.
            /// </summary>
            public static Tensor cross_entropy(Tensor input, Tensor target, Tensor? weight = null, long ignore_index = -100,
                Reduction reduction = Reduction.Mean, double label_smoothing = 0.0)
            {
                using var w = new OptionalHandle(weight);
                return new(pt_cross_entropy(Arg(input), Arg(target), w.Pointer, (long)reduction, ignore_index, label_smoothing));
            }

            /// <summary>Negative log likelihood of log-probabilities (N, C, ...) against class indices (N, ...).</summary>
            public static Tensor nll_loss(Tensor input, Tensor target, Tensor? weight = null, long ignore_index = -100, Reduction reduction = Reduction.Mean)
            {
                using var w = new OptionalHandle(weight);
                return new(pt_nll_loss(Arg(input), Arg(target), w.Pointer, (long)reduction, ignore_index));
            }

            /// <summary><paramref name="pos_weight"/> weighs the positive term per class (broadcast over the last dimension).</summary>
            public static Tensor binary_cross_entropy_with_logits(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean,
                Tensor? pos_weight = null)
            {
                using var w = new OptionalHandle(weight);
                using var pw = new OptionalHandle(pos_weight);
                return new(pt_binary_cross_entropy_with_logits(Arg(input), Arg(target), w.Pointer, pw.Pointer, (long)reduction));
            }

            public static Tensor mse_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
                new(pt_mse_loss(Arg(input), Arg(target), (long)reduction));

            public static Tensor l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
                new(pt_l1_loss(Arg(input), Arg(target), (long)reduction));

            /// <summary>Quadratic below <paramref name="beta"/>, linear above; beta = 0 is plain L1.</summary>
            public static Tensor smooth_l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1.0)
            {
                if (beta < 0) throw new ArgumentOutOfRangeException(nameof(beta), beta, "smooth_l1_loss does not support negative values for beta.");
                return new(pt_smooth_l1_loss(Arg(input), Arg(target), (long)reduction, beta));
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
