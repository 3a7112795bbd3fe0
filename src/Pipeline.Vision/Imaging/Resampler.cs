using System.Buffers;
using System.Runtime.CompilerServices;

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
        // A planar image is resized as `channels` one-channel images.
        var (images, perPixel) = planar ? (channels, 1) : (1, channels);
        var output = GC.AllocateUninitializedArray<byte>(toWidth * toHeight * channels);
        // The intermediate (resized across, not yet down) is pooled: large arrays per image would churn the large-object heap.
        var acrossLength = toWidth == width || toHeight == height ? 0 : toWidth * height * perPixel;
        var across = acrossLength == 0 ? null : ArrayPool<byte>.Shared.Rent(acrossLength);
        try
        {
            var horizontal = Coefficients(width, toWidth);
            var vertical = Coefficients(height, toHeight);
            for (var i = 0; i < images; i++)
            {
                var src = pixels.AsSpan(i * width * height * perPixel, width * height * perPixel);
                var dst = output.AsSpan(i * toWidth * toHeight * perPixel, toWidth * toHeight * perPixel);
                if (toWidth == width && toHeight == height) src.CopyTo(dst);
                else if (toWidth == width) Vertical(src, dst, toWidth * perPixel, height, toHeight, vertical);
                else if (toHeight == height) Horizontal(src, dst, width, toWidth, height, perPixel, horizontal);
                else
                {
                    var middle = across.AsSpan(0, acrossLength);
                    Horizontal(src, middle, width, toWidth, height, perPixel, horizontal);
                    Vertical(middle, dst, toWidth * perPixel, height, toHeight, vertical);
                }
            }
        }
        finally
        {
            if (across is not null) ArrayPool<byte>.Shared.Return(across);
        }
        return output;
    }

    private readonly record struct Filter((int First, int Count)[] Bounds, int[] Weights, int Taps);

    // Hot loops: compiled optimized at once rather than first run as tier-0 code (images are few but large).
    // Along each row: output pixel x is the weighted sum of input pixels first..first+count, per channel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Horizontal(ReadOnlySpan<byte> src, Span<byte> dst, int width, int toWidth, int rows, int channels, Filter filter)
    {
        const int Half = 1 << (PrecisionBits - 1);
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        fixed (int* w0 = filter.Weights)
        {
            var acc = stackalloc int[channels];
            for (var y = 0; y < rows; y++)
            {
                var row = s0 + (long)y * width * channels;
                var outRow = d0 + (long)y * toWidth * channels;
                for (var x = 0; x < toWidth; x++)
                {
                    var (first, count) = filter.Bounds[x];
                    var w = w0 + x * filter.Taps;
                    var p = row + first * channels;
                    if (channels == 3)
                    {
                        int a = Half, b = Half, c = Half;
                        for (var k = 0; k < count; k++, p += 3)
                        {
                            a += p[0] * w[k];
                            b += p[1] * w[k];
                            c += p[2] * w[k];
                        }
                        outRow[x * 3] = Clip(a);
                        outRow[x * 3 + 1] = Clip(b);
                        outRow[x * 3 + 2] = Clip(c);
                        continue;
                    }
                    for (var ch = 0; ch < channels; ch++) acc[ch] = Half;
                    for (var k = 0; k < count; k++, p += channels)
                        for (var ch = 0; ch < channels; ch++) acc[ch] += p[ch] * w[k];
                    for (var ch = 0; ch < channels; ch++) outRow[x * channels + ch] = Clip(acc[ch]);
                }
            }
        }
    }

    // Down the columns: output row y is the weighted sum of whole input rows, accumulated row by row for locality.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Vertical(ReadOnlySpan<byte> src, Span<byte> dst, int rowLength, int height, int toHeight, Filter filter)
    {
        const int Half = 1 << (PrecisionBits - 1);
        var acc = ArrayPool<int>.Shared.Rent(rowLength);
        try
        {
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        fixed (int* a = acc)
        {
            for (var y = 0; y < toHeight; y++)
            {
                var (first, count) = filter.Bounds[y];
                new Span<int>(a, rowLength).Fill(Half);
                for (var k = 0; k < count; k++)
                {
                    var weight = filter.Weights[y * filter.Taps + k];
                    var row = s0 + (long)(first + k) * rowLength;
                    for (var i = 0; i < rowLength; i++) a[i] += row[i] * weight;
                }
                var outRow = d0 + (long)y * rowLength;
                for (var i = 0; i < rowLength; i++) outRow[i] = Clip(a[i]);
            }
        }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(acc);
        }
    }

    private static byte Clip(int sum)
    {
        var value = sum >> PrecisionBits;
        return (byte)(value < 0 ? 0 : value > 255 ? 255 : value);
    }

    // Pillow's precompute_coeffs for the bilinear (triangle, support 1) filter and normalize_coeffs_8bpc.
    private static Filter Coefficients(int inSize, int outSize)
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
        return new Filter(bounds, weights, taps);
    }
}
