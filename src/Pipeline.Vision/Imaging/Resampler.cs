namespace Pipeline.Vision.Imaging;

/// <summary>
/// Antialiased bilinear resizing of 8-bit images, computed as Pillow's <c>Image.resize(size, BILINEAR)</c> does: a
/// separable triangle filter widened by the shrink factor, horizontal pass then vertical, with 22-bit fixed-point
/// weights, so results equal Pillow's. Works on interleaved (HWC) and planar (CHW) layouts.
/// </summary>
public static class Resampler
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static ImageBuffer Resize(ImageBuffer image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        var output = Resize(image.Pixels, image.Width, image.Height, image.Channels, planar: false, width, height);
        return new ImageBuffer(width, height, image.Channels, output);
    }

    /// <summary>Resizes <paramref name="channels"/> channels of <paramref name="width"/> x <paramref name="height"/> pixels,
    /// interleaved or <paramref name="planar"/>, to <paramref name="toWidth"/> x <paramref name="toHeight"/> in the same layout.</summary>
    public static byte[] Resize(byte[] pixels, int width, int height, int channels, bool planar, int toWidth, int toHeight)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfLessThan(toWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(toHeight, 1);
        if ((long)width * height * channels != pixels.LongLength) throw new ArgumentException("pixel count does not match the size", nameof(pixels));
        var current = pixels;
        var currentWidth = width;
        if (toWidth != width)
        {
            current = Pass(current, width, height, channels, planar, toWidth, horizontal: true);
            currentWidth = toWidth;
        }
        if (toHeight != height) current = Pass(current, currentWidth, height, channels, planar, toHeight, horizontal: false);
        return ReferenceEquals(current, pixels) ? (byte[])pixels.Clone() : current;
    }

    // One separable pass along x (horizontal) or y, producing `size` samples along that axis.
    private static byte[] Pass(byte[] src, int width, int height, int channels, bool planar, int size, bool horizontal)
    {
        var inSize = horizontal ? width : height;
        var (bounds, weights, taps) = Coefficients(inSize, size);
        int outW = horizontal ? size : width, outH = horizontal ? height : size;
        var dst = new byte[outW * outH * channels];
        // Element offset of (x, y, c) in each layout.
        int srcPixel = planar ? 1 : channels, srcRow = planar ? width : width * channels, srcPlane = planar ? width * height : 1;
        int dstPixel = planar ? 1 : channels, dstRow = planar ? outW : outW * channels, dstPlane = planar ? outW * outH : 1;
        var step = horizontal ? srcPixel : srcRow;
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < outH; y++)
            {
                for (var x = 0; x < outW; x++)
                {
                    var o = horizontal ? x : y;
                    var (first, count) = bounds[o];
                    var start = c * srcPlane + (horizontal ? y * srcRow + first * srcPixel : first * srcRow + x * srcPixel);
                    var sum = 1 << (PrecisionBits - 1);
                    var w = o * taps;
                    for (var k = 0; k < count; k++) sum += src[start + k * step] * weights[w + k];
                    var value = sum >> PrecisionBits;
                    dst[c * dstPlane + y * dstRow + x * dstPixel] = (byte)(value < 0 ? 0 : value > 255 ? 255 : value);
                }
            }
        }
        return dst;
    }

    // Pillow's precompute_coeffs for the bilinear (triangle, support 1) filter and normalize_coeffs_8bpc.
    private static ((int First, int Count)[] Bounds, int[] Weights, int Taps) Coefficients(int inSize, int outSize)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(1.0, scale);
        var support = filterScale;
        var taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new (int, int)[outSize];
        var weights = new int[outSize * taps];
        var k = new double[taps];
        for (var o = 0; o < outSize; o++)
        {
            var center = (o + 0.5) * scale;
            var first = Math.Max((int)(center - support + 0.5), 0);
            var count = Math.Min((int)(center + support + 0.5), inSize) - first;
            var total = 0.0;
            for (var x = 0; x < count; x++)
            {
                var t = Math.Abs((x + first - center + 0.5) / filterScale);
                k[x] = t < 1 ? 1 - t : 0;
                total += k[x];
            }
            for (var x = 0; x < count; x++)
            {
                var v = total != 0 ? k[x] / total : 0;
                weights[o * taps + x] = v < 0 ? (int)(-0.5 + v * (1 << PrecisionBits)) : (int)(0.5 + v * (1 << PrecisionBits));
            }
            bounds[o] = (first, count);
        }
        return (bounds, weights, taps);
    }
}
