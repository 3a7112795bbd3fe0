using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// <c>torch.nn.init</c>: the same formulas, in the same floating-point order, and the same generator calls
        /// (<c>uniform_</c>, <c>normal_</c>) as PyTorch, so that a given <c>torch.manual_seed</c> gives the same weights.
        /// All fills run without recording a graph.
        /// </summary>
        public static class init
        {
            public enum FanInOut
            {
                FanIn,
                FanOut,
            }

            public enum NonlinearityType
            {
                Linear,
                Conv1D,
                Conv2D,
                Conv3D,
                ConvTranspose1D,
                ConvTranspose2D,
                ConvTranspose3D,
                Sigmoid,
                Tanh,
                ReLU,
                LeakyReLU,
                SELU,
            }

            /// <summary>The recommended gain; <paramref name="param"/> is leaky_relu's negative slope (0.01 when null).</summary>
            public static double calculate_gain(NonlinearityType nonlinearity, double? param = null) => nonlinearity switch
            {
                NonlinearityType.Linear or NonlinearityType.Conv1D or NonlinearityType.Conv2D or NonlinearityType.Conv3D or NonlinearityType.ConvTranspose1D
                    or NonlinearityType.ConvTranspose2D or NonlinearityType.ConvTranspose3D or NonlinearityType.Sigmoid => 1.0,
                NonlinearityType.Tanh => 5.0 / 3,
                NonlinearityType.ReLU => Math.Sqrt(2.0),
                NonlinearityType.LeakyReLU => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
                NonlinearityType.SELU => 3.0 / 4,
                _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "Unsupported nonlinearity"),
            };

            /// <summary>(fan_in, fan_out): dims 1 and 0 times the receptive field (the product of dims 2..).</summary>
            public static (long fan_in, long fan_out) calculate_fan_in_and_fan_out(Tensor tensor)
            {
                ArgumentNullException.ThrowIfNull(tensor);
                var shape = tensor.shape;
                if (shape.Length < 2) throw new ArgumentException("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions", nameof(tensor));
                long receptive = 1;
                for (var k = 2; k < shape.Length; k++) receptive *= shape[k];
                return (shape[1] * receptive, shape[0] * receptive);
            }

            public static Tensor uniform_(Tensor tensor, double a = 0, double b = 1)
            {
                Check(pt_uniform_(Arg(tensor), a, b));
                return tensor;
            }

            public static Tensor normal_(Tensor tensor, double mean = 0, double std = 1)
            {
                Check(pt_normal_(Arg(tensor), mean, std));
                return tensor;
            }

            public static Tensor constant_(Tensor tensor, Scalar val)
            {
                Check(pt_fill_no_grad_(Arg(tensor), val));
                return tensor;
            }

            public static Tensor ones_(Tensor tensor) => constant_(tensor, 1.0);
            public static Tensor zeros_(Tensor tensor) => constant_(tensor, 0);

            public static Tensor xavier_uniform_(Tensor tensor, double gain = 1.0)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                var std = gain * Math.Sqrt(2.0 / (fanIn + fanOut));
                var a = Math.Sqrt(3.0) * std;
                return uniform_(tensor, -a, a);
            }

            public static Tensor xavier_normal_(Tensor tensor, double gain = 1.0)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                var std = gain * Math.Sqrt(2.0 / (fanIn + fanOut));
                return normal_(tensor, 0, std);
            }

            /// <summary>He initialisation: U(-bound, bound) with bound = gain * sqrt(3 / fan).</summary>
            public static Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanInOut mode = FanInOut.FanIn, NonlinearityType nonlinearity = NonlinearityType.LeakyReLU)
            {
                ArgumentNullException.ThrowIfNull(tensor);
                if (tensor.numel() == 0) return tensor; // a no-op, as in PyTorch
                var std = calculate_gain(nonlinearity, a) / Math.Sqrt(CorrectFan(tensor, mode));
                var bound = Math.Sqrt(3.0) * std;
                return uniform_(tensor, -bound, bound);
            }

            /// <summary>He initialisation: N(0, std²) with std = gain / sqrt(fan).</summary>
            public static Tensor kaiming_normal_(Tensor tensor, double a = 0, FanInOut mode = FanInOut.FanIn, NonlinearityType nonlinearity = NonlinearityType.LeakyReLU)
            {
                ArgumentNullException.ThrowIfNull(tensor);
                if (tensor.numel() == 0) return tensor;
                var std = calculate_gain(nonlinearity, a) / Math.Sqrt(CorrectFan(tensor, mode));
                return normal_(tensor, 0, std);
            }

            private static long CorrectFan(Tensor tensor, FanInOut mode)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                return mode == FanInOut.FanIn ? fanIn : fanOut;
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
