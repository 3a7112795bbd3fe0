namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        public sealed class ReLU(bool inplace = false) : Module<Tensor, Tensor>
        {
            public bool inplace { get; } = inplace;
            public override Tensor forward(Tensor input) => functional.relu(input, inplace);
        }

        public sealed class SiLU : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => functional.silu(input);
        }

        /// <summary><paramref name="approximate"/>: "none" (exact) or "tanh".</summary>
        public sealed class GELU : Module<Tensor, Tensor>
        {
            public GELU(string approximate = "none")
            {
                if (approximate is not ("none" or "tanh")) throw new ArgumentException($"approximate must be \"none\" or \"tanh\", got \"{approximate}\"", nameof(approximate));
                this.approximate = approximate;
            }

            public string approximate { get; }
            public override Tensor forward(Tensor input) => functional.gelu(input, approximate);
        }

        public sealed class LeakyReLU(double negative_slope = 0.01) : Module<Tensor, Tensor>
        {
            public double negative_slope { get; } = negative_slope;
            public override Tensor forward(Tensor input) => functional.leaky_relu(input, negative_slope);
        }

        /// <summary>Zeroes elements with probability p while training (scaling the rest by 1/(1-p)); identity in eval mode.</summary>
        public sealed class Dropout : Module<Tensor, Tensor>
        {
            public Dropout(double p = 0.5)
            {
                if (p is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability has to be between 0 and 1");
                this.p = p;
            }

            public double p { get; }
            public override Tensor forward(Tensor input) => functional.dropout(input, p, training);
        }

        /// <summary>Returns its input unchanged (as a new handle to the same tensor, so that disposing it leaves the input alive).</summary>
        public sealed class Identity : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input)
            {
                ArgumentNullException.ThrowIfNull(input);
                return input.alias();
            }
        }

        public sealed class Flatten(long start_dim = 1, long end_dim = -1) : Module<Tensor, Tensor>
        {
            public long start_dim { get; } = start_dim;
            public long end_dim { get; } = end_dim;

            public override Tensor forward(Tensor input)
            {
                ArgumentNullException.ThrowIfNull(input);
                return input.flatten(start_dim, end_dim);
            }
        }

        /// <summary>stride defaults to kernel_size.</summary>
        public sealed class MaxPool2d(Size2 kernel_size, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceil_mode = false)
            : Module<Tensor, Tensor>
        {
            public Size2 kernel_size { get; } = kernel_size;
            public Size2 stride { get; } = stride ?? kernel_size;
            public Size2 padding { get; } = padding ?? 0;
            public Size2 dilation { get; } = dilation ?? 1;
            public bool ceil_mode { get; } = ceil_mode;

            public override Tensor forward(Tensor input) => functional.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode);
        }

        /// <summary>stride defaults to kernel_size.</summary>
        public sealed class AvgPool2d(Size2 kernel_size, Size2? stride = null, Size2? padding = null, bool ceil_mode = false, bool count_include_pad = true,
            long? divisor_override = null) : Module<Tensor, Tensor>
        {
            public Size2 kernel_size { get; } = kernel_size;
            public Size2 stride { get; } = stride ?? kernel_size;
            public Size2 padding { get; } = padding ?? 0;
            public bool ceil_mode { get; } = ceil_mode;
            public bool count_include_pad { get; } = count_include_pad;
            public long? divisor_override { get; } = divisor_override;

            public override Tensor forward(Tensor input) =>
                functional.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
        }

        public sealed class AdaptiveAvgPool2d(Size2 output_size) : Module<Tensor, Tensor>
        {
            public Size2 output_size { get; } = output_size;
            public override Tensor forward(Tensor input) => functional.adaptive_avg_pool2d(input, output_size);
        }
    }
}
#pragma warning restore CA1707, IDE1006
