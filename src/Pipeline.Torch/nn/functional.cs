using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary><c>torch.nn.functional</c>: each op calls the at:: op that PyTorch's own functional calls.</summary>
        public static partial class functional
        {
            public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null)
            {
                using var b = new OptionalHandle(bias);
                return new(pt_linear(Arg(input), Arg(weight), b.Pointer));
            }

            /// <summary>stride, padding, dilation: a number or (h, w); defaults 1, 0, 1.</summary>
            public static unsafe Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null,
                Size2? dilation = null, long groups = 1)
            {
                var s = (stride ?? 1).ToArray();
                var p = (padding ?? 0).ToArray();
                var d = (dilation ?? 1).ToArray();
                using var b = new OptionalHandle(bias);
                fixed (long* ps = s, pp = p, pd = d)
                    return new(pt_conv2d(Arg(input), Arg(weight), b.Pointer, ps, pp, pd, groups));
            }

            /// <summary>
            /// Batch normalisation over dim 1. In training mode the batch statistics are used and
            /// <paramref name="running_mean"/>/<paramref name="running_var"/> (when given) are updated in place.
            /// </summary>
            public static Tensor batch_norm(Tensor input, Tensor? running_mean, Tensor? running_var, Tensor? weight = null, Tensor? bias = null,
                bool training = false, double momentum = 0.1, double eps = 1e-5)
            {
                ArgumentNullException.ThrowIfNull(input);
                if (training) VerifyBatchSize(input.shape);
                using var rm = new OptionalHandle(running_mean);
                using var rv = new OptionalHandle(running_var);
                using var w = new OptionalHandle(weight);
                using var b = new OptionalHandle(bias);
                return new(pt_batch_norm(input.Handle, rm.Pointer, rv.Pointer, w.Pointer, b.Pointer, training ? 1 : 0, momentum, eps));
            }

            // As F.batch_norm: one value per channel has no variance to normalise by.
            private static void VerifyBatchSize(long[] shape)
            {
                long values = shape[0];
                for (var k = 2; k < shape.Length; k++) values *= shape[k];
                if (values == 1)
                    throw new ArgumentException($"Expected more than 1 value per channel when training, got input size [{string.Join(", ", shape)}]");
            }

            public static Tensor group_norm(Tensor input, long num_groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
            {
                ArgumentNullException.ThrowIfNull(input);
                var shape = input.shape;
                if (shape.Length < 2) throw new ArgumentException($"Expected at least 2 dimensions for input tensor but received {shape.Length}", nameof(input));
                if (num_groups > 0) VerifyBatchSize([shape[0] * shape[1] / num_groups, num_groups, .. shape[2..]]);
                using var w = new OptionalHandle(weight);
                using var b = new OptionalHandle(bias);
                return new(pt_group_norm(Arg(input), num_groups, w.Pointer, b.Pointer, eps));
            }

            public static unsafe Tensor layer_norm(Tensor input, long[] normalized_shape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
            {
                ArgumentNullException.ThrowIfNull(normalized_shape);
                using var w = new OptionalHandle(weight);
                using var b = new OptionalHandle(bias);
                fixed (long* p = normalized_shape)
                    return new(pt_layer_norm(Arg(input), p, normalized_shape.Length, w.Pointer, b.Pointer, eps));
            }

            public static Tensor relu(Tensor input, bool inplace = false)
            {
                ArgumentNullException.ThrowIfNull(input);
                return inplace ? input.relu_() : input.relu();
            }

            public static Tensor silu(Tensor input) => new(pt_silu(Arg(input)));

            /// <summary><paramref name="approximate"/>: "none" (exact, erf) or "tanh".</summary>
            public static Tensor gelu(Tensor input, string approximate = "none") => approximate switch
            {
                "none" => new(pt_gelu(Arg(input), 0)),
                "tanh" => new(pt_gelu(Arg(input), 1)),
                _ => throw new ArgumentException($"approximate must be \"none\" or \"tanh\", got \"{approximate}\"", nameof(approximate)),
            };

            public static Tensor leaky_relu(Tensor input, double negative_slope = 0.01) => new(pt_leaky_relu(Arg(input), negative_slope));

            /// <summary>stride defaults to kernel_size, as in PyTorch.</summary>
            public static unsafe Tensor max_pool2d(Tensor input, Size2 kernel_size, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
                bool ceil_mode = false)
            {
                var k = kernel_size.ToArray();
                var s = (stride ?? kernel_size).ToArray();
                var p = (padding ?? 0).ToArray();
                var d = (dilation ?? 1).ToArray();
                fixed (long* pk = k, ps = s, pp = p, pd = d)
                    return new(pt_max_pool2d(Arg(input), pk, ps, pp, pd, ceil_mode ? 1 : 0));
            }

            /// <summary>stride defaults to kernel_size, as in PyTorch.</summary>
            public static unsafe Tensor avg_pool2d(Tensor input, Size2 kernel_size, Size2? stride = null, Size2? padding = null, bool ceil_mode = false,
                bool count_include_pad = true, long? divisor_override = null)
            {
                if (divisor_override is <= 0) throw new ArgumentOutOfRangeException(nameof(divisor_override), divisor_override, "divisor must be not zero");
                var k = kernel_size.ToArray();
                var s = (stride ?? kernel_size).ToArray();
                var p = (padding ?? 0).ToArray();
                fixed (long* pk = k, ps = s, pp = p)
                    return new(pt_avg_pool2d(Arg(input), pk, ps, pp, ceil_mode ? 1 : 0, count_include_pad ? 1 : 0, divisor_override ?? 0));
            }

            public static unsafe Tensor adaptive_avg_pool2d(Tensor input, Size2 output_size)
            {
                var o = output_size.ToArray();
                fixed (long* p = o) return new(pt_adaptive_avg_pool2d(Arg(input), p));
            }

            /// <summary>Zeroes each element with probability <paramref name="p"/> and scales the rest by 1/(1-p); identity when not training.</summary>
            public static Tensor dropout(Tensor input, double p = 0.5, bool training = true) => new(pt_dropout(Arg(input), p, training ? 1 : 0));

            /// <summary>
            /// Resizes (N, C, H, W) input to <paramref name="size"/> or by <paramref name="scale_factor"/> (exactly one), as
            /// F.interpolate: align_corners only for bilinear (default false); antialias only for bilinear.
            /// </summary>
            public static unsafe Tensor interpolate(Tensor input, Size2? size = null, Scale2? scale_factor = null, InterpolationMode mode = InterpolationMode.Nearest,
                bool? align_corners = null, bool? recompute_scale_factor = null, bool antialias = false)
            {
                if (mode == InterpolationMode.Nearest && align_corners.HasValue)
                    throw new ArgumentException("align_corners option can only be set with the interpolating modes: bilinear", nameof(align_corners));
                if (size.HasValue == scale_factor.HasValue)
                    throw new ArgumentException(size.HasValue ? "only one of size or scale_factor should be defined" : "either size or scale_factor should be defined");
                if (recompute_scale_factor == true && size.HasValue)
                    throw new ArgumentException("recompute_scale_factor is not meaningful with an explicit size.", nameof(recompute_scale_factor));
                if (antialias && mode != InterpolationMode.Bilinear)
                    throw new ArgumentException("Anti-alias option is only supported for bilinear mode", nameof(antialias));
                var sizes = size?.ToArray();
                var scales = scale_factor?.ToArray();
                if (recompute_scale_factor == true)
                {
                    // As F.interpolate: the output size is computed here and the scales dropped.
                    ArgumentNullException.ThrowIfNull(input);
                    var shape = input.shape;
                    if (shape.Length != 4) throw new ArgumentException($"interpolate expects a 4-D (N, C, H, W) input, got {shape.Length}-D", nameof(input));
                    sizes = [(long)Math.Floor(shape[2] * scales![0]), (long)Math.Floor(shape[3] * scales[1])];
                    scales = null;
                }
                fixed (long* ps = sizes)
                fixed (double* pf = scales)
                    return new(pt_interpolate(Arg(input), ps, pf, mode == InterpolationMode.Bilinear ? 1 : 0, align_corners == true ? 1 : 0, antialias ? 1 : 0));
            }

            /// <summary>Constant padding: <paramref name="pad"/> lists (before, after) pairs starting from the last dimension.</summary>
            public static unsafe Tensor pad(Tensor input, long[] pad, double value = 0)
            {
                ArgumentNullException.ThrowIfNull(pad);
                if (pad.Length % 2 != 0) throw new ArgumentException("Padding length must be divisible by 2", nameof(pad));
                fixed (long* p = pad) return new(pt_constant_pad(Arg(input), p, pad.Length, value));
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
