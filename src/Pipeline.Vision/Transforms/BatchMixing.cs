using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>
/// MixUp and CutMix for classification batches: (N, C, H, W) float images and (N) int64 labels in, mixed images and
/// soft targets (N, classes) out. The mixing weight is drawn from Beta(alpha, alpha); partners are a random permutation.
/// </summary>
public static class BatchMixing
{
    public static (Tensor Images, Tensor Targets) MixUp(Tensor images, Tensor labels, int classes, double alpha, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var lambda = Beta(random, alpha);
        var perm = Permutation(images.shape[0], random, images.device);
        var mixed = images * lambda + images.index_select(0, perm) * (1 - lambda);
        var targets = Mix(labels, perm, classes, lambda);
        return (mixed.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>Pastes a box of each partner image covering about 1 - lambda of the area; targets are weighted by the exact pasted area.</summary>
    public static (Tensor Images, Tensor Targets) CutMix(Tensor images, Tensor labels, int classes, double alpha, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var lambda = Beta(random, alpha);
        int h = (int)images.shape[2], w = (int)images.shape[3];
        var cut = Math.Sqrt(1 - lambda);
        int ch = (int)(h * cut), cw = (int)(w * cut);
        int cy = random.Next(h), cx = random.Next(w);
        int top = Math.Clamp(cy - ch / 2, 0, h), bottom = Math.Clamp(cy + ch / 2, 0, h);
        int left = Math.Clamp(cx - cw / 2, 0, w), right = Math.Clamp(cx + cw / 2, 0, w);
        var perm = Permutation(images.shape[0], random, images.device);
        var mixed = images.clone();
        if (bottom > top && right > left)
        {
            var source = images.index_select(0, perm).narrow(2, top, bottom - top).narrow(3, left, right - left);
            mixed.narrow(2, top, bottom - top).narrow(3, left, right - left).copy_(source);
        }
        var kept = 1 - (double)(bottom - top) * (right - left) / (h * w);
        var targets = Mix(labels, perm, classes, kept);
        return (mixed.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>A Beta(alpha, alpha) draw from two Gamma draws (Marsaglia–Tsang).</summary>
    public static double Beta(Random random, double alpha)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alpha);
        var a = Gamma(random, alpha);
        var b = Gamma(random, alpha);
        return a / (a + b);
    }

    private static double Gamma(Random random, double shape)
    {
        if (shape < 1) return Gamma(random, shape + 1) * Math.Pow(random.NextDouble(), 1 / shape);
        var d = shape - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            var u = random.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }

    private static Tensor Permutation(long n, Random random, Device device)
    {
        var order = Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
        random.Shuffle(order);
        return tensor(order).to(device);
    }

    private static Tensor Mix(Tensor labels, Tensor perm, int classes, double lambda)
    {
        var onehot = nn.functional.one_hot(labels, classes).to(ScalarType.Float32);
        return onehot * lambda + onehot.index_select(0, perm) * (1 - lambda);
    }
}
