namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>y = x Wᵀ + b. Initialised as PyTorch does (kaiming_uniform a=√5, bias U(±1/√fan_in)), so the same
        /// seed gives the same weights.</summary>
        public sealed class Linear : Module<Tensor, Tensor>
        {
            public Linear(long in_features, long out_features, bool bias = true, Device? device = null, ScalarType dtype = ScalarType.Float32)
            {
                this.in_features = in_features;
                this.out_features = out_features;
                weight = Layers.NewParameter([out_features, in_features], dtype, device);
                this.bias = bias ? Layers.NewParameter([out_features], dtype, device) : null;
                reset_parameters();
            }

            public long in_features { get; }
            public long out_features { get; }

            public Parameter weight
            {
                get => GetParameter(nameof(weight))!;
                set => register_parameter(nameof(weight), value ?? throw new ArgumentNullException(nameof(value)));
            }

            public Parameter? bias
            {
                get => GetParameter(nameof(bias));
                set => register_parameter(nameof(bias), value);
            }

            public void reset_parameters() => Layers.ResetLikePyTorch(weight, bias, linear: true);

            public override Tensor forward(Tensor input) => functional.linear(input, weight, bias);
        }

        /// <summary>2-D convolution over (N, C, H, W); weight (out, in/groups, kh, kw). Zero padding only.</summary>
        public sealed class Conv2d : Module<Tensor, Tensor>
        {
            public Conv2d(long in_channels, long out_channels, Size2 kernel_size, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
                long groups = 1, bool bias = true, Device? device = null, ScalarType dtype = ScalarType.Float32)
            {
                if (groups <= 0) throw new ArgumentOutOfRangeException(nameof(groups), groups, "groups must be a positive integer");
                if (in_channels % groups != 0) throw new ArgumentException("in_channels must be divisible by groups", nameof(in_channels));
                if (out_channels % groups != 0) throw new ArgumentException("out_channels must be divisible by groups", nameof(out_channels));
                this.in_channels = in_channels;
                this.out_channels = out_channels;
                this.kernel_size = kernel_size;
                this.stride = stride ?? 1;
                this.padding = padding ?? 0;
                this.dilation = dilation ?? 1;
                this.groups = groups;
                weight = Layers.NewParameter([out_channels, in_channels / groups, kernel_size.H, kernel_size.W], dtype, device);
                this.bias = bias ? Layers.NewParameter([out_channels], dtype, device) : null;
                reset_parameters();
            }

            public long in_channels { get; }
            public long out_channels { get; }
            public Size2 kernel_size { get; }
            public Size2 stride { get; }
            public Size2 padding { get; }
            public Size2 dilation { get; }
            public long groups { get; }

            public Parameter weight
            {
                get => GetParameter(nameof(weight))!;
                set => register_parameter(nameof(weight), value ?? throw new ArgumentNullException(nameof(value)));
            }

            public Parameter? bias
            {
                get => GetParameter(nameof(bias));
                set => register_parameter(nameof(bias), value);
            }

            public void reset_parameters() => Layers.ResetLikePyTorch(weight, bias, linear: false);

            public override Tensor forward(Tensor input) => functional.conv2d(input, weight, bias, stride, padding, dilation, groups);
        }
    }

    /// <summary>Shared construction helpers of the built-in layers.</summary>
    internal static class Layers
    {
        /// <summary>An uninitialised parameter, as PyTorch's <c>torch.empty</c> + reset_parameters.</summary>
        internal static Parameter NewParameter(long[] shape, ScalarType dtype, Device? device, bool requires_grad = true)
        {
            using var data = empty(shape, dtype, device);
            return new Parameter(data, requires_grad);
        }

        internal static Parameter Filled(long[] shape, double value, ScalarType dtype, Device? device)
        {
            using var data = full(shape, value, dtype, device);
            return new Parameter(data);
        }

        /// <summary>Linear's and Conv's reset_parameters, step for step (the generator is drawn in the same order).</summary>
        internal static void ResetLikePyTorch(Parameter weight, Parameter? bias, bool linear)
        {
            nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
            if (bias is null) return;
            var (fanIn, _) = nn.init.calculate_fan_in_and_fan_out(weight);
            // Linear fills U(0, 0) when fan_in is 0, convolutions skip the fill: the generator use differs.
            if (fanIn == 0 && !linear) return;
            var bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
            nn.init.uniform_(bias, -bound, bound);
        }
    }
}
#pragma warning restore CA1707, IDE1006
