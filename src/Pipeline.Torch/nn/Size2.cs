namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006, CA2225 // names follow PyTorch; tuples and numbers are the alternates
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// A 2-D size argument (kernel, stride, padding, ...): PyTorch's "int or (h, w)". Converts implicitly
        /// from a number (both sides) or a tuple: <c>stride: 2</c>, <c>padding: (1, 0)</c>.
        /// </summary>
        public readonly record struct Size2(long H, long W)
        {
            public static implicit operator Size2(long value) => new(value, value);
            public static implicit operator Size2((long H, long W) value) => new(value.H, value.W);
            public static implicit operator Size2((int H, int W) value) => new(value.H, value.W);

            internal long[] ToArray() => [H, W];
            public override string ToString() => $"({H}, {W})";
        }

        /// <summary>A 2-D scale factor: a number (both sides) or (h, w).</summary>
        public readonly record struct Scale2(double H, double W)
        {
            public static implicit operator Scale2(double value) => new(value, value);
            public static implicit operator Scale2((double H, double W) value) => new(value.H, value.W);

            internal double[] ToArray() => [H, W];
            public override string ToString() => $"({H}, {W})";
        }

        /// <summary>How a loss reduces over the batch; the values are libtorch's <c>at::Reduction</c>.</summary>
        public enum Reduction
        {
            None = 0,
            Mean = 1,
            Sum = 2,
        }

        public enum InterpolationMode
        {
            Nearest,
            Bilinear,
        }
    }
}
#pragma warning restore CA1707, IDE1006, CA2225
