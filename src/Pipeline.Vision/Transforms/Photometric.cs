using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>
/// Random brightness, contrast, saturation and hue (in that order). The first three draw a factor uniformly from
/// [max(0, 1 - s), 1 + s] as torchvision's ColorJitter: brightness scales, contrast blends with the mean gray level,
/// saturation with the gray image. Hue turns the colours by a fraction of a full turn drawn from ±<paramref name="hue"/>
/// (at most 0.5), as a rotation of the chroma plane in YIQ space, which keeps luma.
/// </summary>
public sealed class ColorJitter(double brightness = 0, double contrast = 0, double saturation = 0, double hue = 0) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var max = ImageOps.MaxValue(image);
        var x = image.to(ScalarType.Float32);
        if (brightness > 0) x = (x * Factor(brightness, random)).clamp(0, max);
        if (contrast > 0)
        {
            var mean = ImageOps.Gray(x).mean();
            var f = Factor(contrast, random);
            x = (x * f + mean * (1 - f)).clamp(0, max);
        }
        if (saturation > 0 && image.shape[0] >= 3)
        {
            var f = Factor(saturation, random);
            x = (x * f + ImageOps.Gray(x) * (1 - f)).clamp(0, max);
        }
        if (hue > 0 && image.shape[0] >= 3)
        {
            var turn = (random.NextDouble() * 2 - 1) * Math.Min(hue, 0.5);
            var rgb = x.narrow(0, 0, 3).reshape(3, -1);
            var rotated = HueRotation(turn).to(x.device).matmul(rgb).reshape(3, x.shape[1], x.shape[2]).clamp(0, max);
            x = x.shape[0] == 3 ? rotated : cat([rotated, x.narrow(0, 3, x.shape[0] - 3)]);
        }
        return ImageOps.Restore(x, image).MoveToOuterDisposeScope();
    }

    /// <summary>RGB to YIQ, turn I and Q by <paramref name="turn"/> of a full circle, back to RGB: one 3x3 matrix.</summary>
    public static Tensor HueRotation(double turn)
    {
        double[,] toYiq = { { 0.299, 0.587, 0.114 }, { 0.596, -0.274, -0.322 }, { 0.211, -0.523, 0.312 } };
        double[,] toRgb = { { 1, 0.956, 0.621 }, { 1, -0.272, -0.647 }, { 1, -1.106, 1.703 } };
        var (cos, sin) = (Math.Cos(2 * Math.PI * turn), Math.Sin(2 * Math.PI * turn));
        double[,] rotate = { { 1, 0, 0 }, { 0, cos, -sin }, { 0, sin, cos } };
        var m = new float[9];
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++)
            {
                double v = 0;
                for (var k = 0; k < 3; k++)
                    for (var l = 0; l < 3; l++) v += toRgb[i, k] * rotate[k, l] * toYiq[l, j];
                m[i * 3 + j] = (float)v;
            }
        return tensor(m, [3, 3]);
    }

    private static double Factor(double strength, Random random)
    {
        var low = Math.Max(0, 1 - strength);
        return low + random.NextDouble() * (1 + strength - low);
    }
}

/// <summary>Per-channel (x - mean) / std on values scaled to 0..1 (uint8 is divided by 255); yields float32.</summary>
public sealed class Normalize(double[] mean, double[] std) : ImageTransform
{
    /// <summary>The ImageNet statistics torchvision's pretrained models expect.</summary>
    public static Normalize ImageNet() => new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (mean.Length != image.shape[0] || std.Length != image.shape[0])
            throw new ArgumentException($"Normalize has {mean.Length} means and {std.Length} stds for an image of {image.shape[0]} channels");
        using var scope = NewDisposeScope();
        var x = image.to(ScalarType.Float32);
        if (image.dtype == ScalarType.Byte) x = x / 255.0;
        var m = tensor(mean.Select(v => (float)v).ToArray(), [mean.Length, 1, 1]).to(image.device);
        var s = tensor(std.Select(v => (float)v).ToArray(), [std.Length, 1, 1]).to(image.device);
        return ((x - m) / s).MoveToOuterDisposeScope();
    }
}

/// <summary>Cutout: <paramref name="count"/> squares of side <paramref name="fraction"/> of the shorter side, centred at random
/// (clipped at the edges), set to <paramref name="fill"/>.</summary>
public sealed class Cutout(double fraction = 0.25, int count = 1, double fill = 0) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        int h = ImageOps.Height(image), w = ImageOps.Width(image);
        var side = Math.Max(1, (int)Math.Round(Math.Min(h, w) * fraction));
        var result = image.clone();
        for (var k = 0; k < count; k++)
        {
            int cy = random.Next(h), cx = random.Next(w);
            int top = Math.Max(0, cy - side / 2), left = Math.Max(0, cx - side / 2);
            int bottom = Math.Min(h, cy - side / 2 + side), right = Math.Min(w, cx - side / 2 + side);
            if (bottom <= top || right <= left) continue;
            using var rows = result.narrow(1, top, bottom - top);
            using var region = rows.narrow(2, left, right - left);
            region.fill_(fill);
        }
        return result;
    }
}
