using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pipeline.Vision.Imaging;

/// <summary>
/// Antialiased bilinear resizing of 8-bit images, computed as Pillow's <c>Image.resize(size, BILINEAR)</c> does: a
/// separable triangle filter widened by the shrink factor, horizontal pass then vertical, with 22-bit fixed-point
/// weights, so results equal Pillow's. Works on interleaved (HWC) and planar (CHW) layouts.
/// </summary>
/// <remarks>
/// With AVX2 both passes run on 256-bit integer vectors; otherwise on scalar loops. Both compute the same int32 sums
/// (integer addition does not depend on its order) with the same rounding and clipping, so they agree bit for bit.
/// </remarks>
public static class Resampler
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Half = 1 << (PrecisionBits - 1);

    /// <summary>Whether the vector passes run here (AVX2).</summary>
    internal static bool Vectorized => Vector256.IsHardwareAccelerated && Avx2.IsSupported;

    public static ImageBuffer Resize(ImageBuffer image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        var output = Resize(image.Pixels, image.Width, image.Height, image.Channels, planar: false, width, height);
        return new ImageBuffer(width, height, image.Channels, output);
    }

    /// <summary>Resizes <paramref name="channels"/> channels of <paramref name="width"/> x <paramref name="height"/> pixels,
    /// interleaved or <paramref name="planar"/>, to <paramref name="toWidth"/> x <paramref name="toHeight"/> in the same layout.</summary>
    public static byte[] Resize(byte[] pixels, int width, int height, int channels, bool planar, int toWidth, int toHeight) =>
        Resize(pixels, width, height, channels, planar, toWidth, toHeight, Vectorized);

    /// <summary>As the public overload; <paramref name="vectorized"/> false runs the scalar passes (the reference the
    /// vector passes are tested against).</summary>
    internal static byte[] Resize(byte[] pixels, int width, int height, int channels, bool planar, int toWidth, int toHeight, bool vectorized)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfLessThan(toWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(toHeight, 1);
        if ((long)width * height * channels != pixels.LongLength) throw new ArgumentException("pixel count does not match the size", nameof(pixels));
        vectorized &= Vectorized;
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
                else if (toWidth == width) Vertical(src, dst, toWidth * perPixel, toHeight, vertical, vectorized);
                else if (toHeight == height) Horizontal(src, dst, width, toWidth, height, perPixel, horizontal, vectorized);
                else
                {
                    var middle = across.AsSpan(0, acrossLength);
                    Horizontal(src, middle, width, toWidth, height, perPixel, horizontal, vectorized);
                    Vertical(middle, dst, toWidth * perPixel, toHeight, vertical, vectorized);
                }
            }
        }
        finally
        {
            if (across is not null) ArrayPool<byte>.Shared.Return(across);
        }
        return output;
    }

    /// <summary>Output pixel o is the weighted sum of input pixels First[o] .. First[o] + Count[o] - 1, with weights
    /// Weights[o * Taps ..] (zero past Count[o]); MaxCount is the largest Count.</summary>
    private sealed record Filter(int[] First, int[] Count, int[] Weights, int Taps, int MaxCount);

    private static void Horizontal(ReadOnlySpan<byte> src, Span<byte> dst, int width, int toWidth, int rows, int channels, Filter filter, bool vectorized)
    {
        if (vectorized && channels == 1) HorizontalOneVector(src, dst, width, toWidth, rows, filter);
        else if (vectorized) HorizontalPixelVector(src, dst, width, toWidth, rows, channels, filter);
        else HorizontalScalar(src, dst, width, toWidth, rows, channels, filter);
    }

    private static void Vertical(ReadOnlySpan<byte> src, Span<byte> dst, int rowLength, int toHeight, Filter filter, bool vectorized)
    {
        // Vectors take 32 bytes of a row at a time; narrower rows are left to the scalar loop.
        if (vectorized && rowLength >= 32) VerticalVector(src, dst, rowLength, toHeight, filter);
        else VerticalScalar(src, dst, rowLength, toHeight, filter);
    }

    // Hot loops: compiled optimized at once rather than first run as tier-0 code (images are few but large).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void HorizontalScalar(ReadOnlySpan<byte> src, Span<byte> dst, int width, int toWidth, int rows, int channels, Filter filter)
    {
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        {
            for (var y = 0; y < rows; y++)
                HorizontalRow(s0 + (long)y * width * channels, d0 + (long)y * toWidth * channels, channels, filter, 0, toWidth);
        }
    }

    // Along a row: output pixel x is the weighted sum of input pixels first..first+count, per channel; for x in [fromX, toX).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void HorizontalRow(byte* row, byte* outRow, int channels, Filter filter, int fromX, int toX)
    {
        fixed (int* w0 = filter.Weights)
        fixed (int* firsts = filter.First)
        fixed (int* counts = filter.Count)
        {
            var acc = stackalloc int[channels];
            for (var x = fromX; x < toX; x++)
            {
                var count = counts[x];
                var w = w0 + x * filter.Taps;
                var p = row + firsts[x] * channels;
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

    // Down the columns: output row y is the weighted sum of whole input rows, accumulated row by row for locality.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void VerticalScalar(ReadOnlySpan<byte> src, Span<byte> dst, int rowLength, int toHeight, Filter filter)
    {
        var acc = ArrayPool<int>.Shared.Rent(rowLength);
        try
        {
            fixed (byte* s0 = src)
            fixed (byte* d0 = dst)
            fixed (int* a = acc)
            {
                for (var y = 0; y < toHeight; y++)
                {
                    var (first, count) = (filter.First[y], filter.Count[y]);
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

    // Down the columns, 32 bytes of the row at a time: each byte widened to an int32 lane, times the row's weight,
    // summed over the taps in four registers, then shifted, clipped and packed back to 32 bytes. The last block of a
    // row ends at the row's end, overlapping the one before (recomputing equal bytes).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void VerticalVector(ReadOnlySpan<byte> src, Span<byte> dst, int rowLength, int toHeight, Filter filter)
    {
        var half = Vector256.Create(Half);
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        fixed (int* w0 = filter.Weights)
        fixed (int* firsts = filter.First)
        fixed (int* counts = filter.Count)
        {
            for (var y = 0; y < toHeight; y++)
            {
                var count = counts[y];
                var w = w0 + y * filter.Taps;
                var top = s0 + (long)firsts[y] * rowLength;
                var outRow = d0 + (long)y * rowLength;
                for (var i = 0; i < rowLength; i += 32)
                {
                    var at = Math.Min(i, rowLength - 32);
                    var p = top + at;
                    Vector256<int> a0 = half, a1 = half, a2 = half, a3 = half;
                    for (var k = 0; k < count; k++, p += rowLength)
                    {
                        var weight = Vector256.Create(w[k]);
                        a0 += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p), weight);
                        a1 += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 8), weight);
                        a2 += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 16), weight);
                        a3 += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 24), weight);
                    }
                    ClipPack(a0, a1, a2, a3).Store(outRow + at);
                }
            }
        }
    }

    // Along the rows for 2 to 4 channels: a pixel's channels take a group of four int32 lanes, two taps to a
    // Vector256. Four taps (4 * channels bytes) come from one 16-byte load, shuffled into groups of four and widened;
    // weights are laid out to match (each tap's weight four times, zero past the pixel's count), and the two halves
    // summed at the end. Loads may reach past the taps (weight zero) but never past the image; a 4-byte store writes
    // the next pixel's first byte(s) before that pixel is computed. Pixels where either would leave the buffers, at the
    // very end, are computed by the scalar loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void HorizontalPixelVector(ReadOnlySpan<byte> src, Span<byte> dst, int width, int toWidth, int rows, int channels, Filter filter)
    {
        var groups = (filter.MaxCount + 3) / 4;
        var table = ArrayPool<int>.Shared.Rent(toWidth * groups * 16);
        try
        {
            // table[(x * groups + g) * 16 + 8 * h + 4 * t + c] = weight of tap 4g + 2h + t for output x.
            for (var x = 0; x < toWidth; x++)
                for (var j = 0; j < groups * 4; j++)
                {
                    var weight = j < filter.Count[x] ? filter.Weights[x * filter.Taps + j] : 0;
                    var at = (x * groups + j / 4) * 16 + 4 * (j % 4);
                    table[at] = table[at + 1] = table[at + 2] = table[at + 3] = weight;
                }
            Span<byte> order = stackalloc byte[16];
            for (var i = 0; i < 16; i++) order[i] = (byte)(i % 4 < channels ? i / 4 * channels + i % 4 : 0x80);
            var shuffle = Vector128.Create((ReadOnlySpan<byte>)order);
            var half = Vector128.Create(Half, Half, Half, Half);
            // A pixel's loads reach this far past its first tap's first byte; its store, 4 bytes past its first byte.
            var reach = 4 * channels * (groups - 1) + 16;
            fixed (byte* s0 = src)
            fixed (byte* d0 = dst)
            fixed (int* t0 = table)
            fixed (int* firsts = filter.First)
            {
                for (var y = 0; y < rows; y++)
                {
                    var row = s0 + (long)y * width * channels;
                    var outRow = d0 + (long)y * toWidth * channels;
                    // Pixels [0, end) stay inside both buffers (firsts never decrease): all but a few on the last rows.
                    var end = toWidth;
                    while (end > 0 && (row - s0 + firsts[end - 1] * channels + reach > src.Length || outRow - d0 + (end - 1) * channels + 4 > dst.Length))
                        end--;
                    var w = t0;
                    for (var x = 0; x < end; x++)
                    {
                        var p = row + firsts[x] * channels;
                        var acc = Vector256<int>.Zero;
                        for (var g = 0; g < groups; g++, p += 4 * channels, w += 16)
                        {
                            var taps = Ssse3.Shuffle(Vector128.Load(p), shuffle);
                            acc += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(taps), Vector256.Load(w));
                            acc += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(Sse2.UnpackHigh(taps.AsUInt64(), taps.AsUInt64()).AsByte()), Vector256.Load(w + 8));
                        }
                        var sum = Sse2.ShiftRightArithmetic(acc.GetLower() + acc.GetUpper() + half, PrecisionBits);
                        var words = Sse2.PackSignedSaturate(sum, sum);
                        *(int*)(outRow + x * channels) = Sse2.PackUnsignedSaturate(words, words).AsInt32().ToScalar();
                    }
                    if (end < toWidth) HorizontalRow(row, outRow, channels, filter, end, toWidth);
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(table);
        }
    }

    // Along the rows of one channel: eight taps to a Vector256 (8 bytes widened, times the zero-padded weights), four
    // output pixels at a time, whose four sums are gathered into one vector by horizontal adds, then shifted, clipped,
    // packed and stored as 4 bytes. Pixels whose loads would leave the image, and the last toWidth % 4 of each row, go
    // through the scalar loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void HorizontalOneVector(ReadOnlySpan<byte> src, Span<byte> dst, int width, int toWidth, int rows, Filter filter)
    {
        var groups = (filter.MaxCount + 7) / 8;
        var table = ArrayPool<int>.Shared.Rent(toWidth * groups * 8);
        try
        {
            for (var x = 0; x < toWidth; x++)
                for (var j = 0; j < groups * 8; j++)
                    table[x * groups * 8 + j] = j < filter.Count[x] ? filter.Weights[x * filter.Taps + j] : 0;
            var half = Vector128.Create(Half, Half, Half, Half);
            fixed (byte* s0 = src)
            fixed (byte* d0 = dst)
            fixed (int* t0 = table)
            fixed (int* firsts = filter.First)
            {
                for (var y = 0; y < rows; y++)
                {
                    var row = s0 + (long)y * width;
                    var outRow = d0 + (long)y * toWidth;
                    // Quads of pixels [0, end) whose loads stay inside the image (firsts never decrease).
                    var end = toWidth / 4 * 4;
                    while (end > 0 && row - s0 + firsts[end - 1] + 8 * groups > src.Length) end -= 4;
                    for (var x = 0; x < end; x += 4)
                    {
                        var a0 = Dot(row + firsts[x], t0 + x * groups * 8, groups);
                        var a1 = Dot(row + firsts[x + 1], t0 + (x + 1) * groups * 8, groups);
                        var a2 = Dot(row + firsts[x + 2], t0 + (x + 2) * groups * 8, groups);
                        var a3 = Dot(row + firsts[x + 3], t0 + (x + 3) * groups * 8, groups);
                        var sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
                        var sum = Sse2.ShiftRightArithmetic(sums.GetLower() + sums.GetUpper() + half, PrecisionBits);
                        var words = Sse2.PackSignedSaturate(sum, sum);
                        *(int*)(outRow + x) = Sse2.PackUnsignedSaturate(words, words).AsInt32().ToScalar();
                    }
                    if (end < toWidth) HorizontalRow(row, outRow, 1, filter, end, toWidth);
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(table);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Dot(byte* p, int* w, int groups)
    {
        var acc = Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p), Vector256.Load(w));
        for (var g = 1; g < groups; g++)
            acc += Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 8 * g), Vector256.Load(w + 8 * g));
        return acc;
    }

    // Shifts four vectors of sums down to 8 bits, saturating to 0..255 as Clip does, and packs them in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ClipPack(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3)
    {
        var low = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a0, PrecisionBits), Avx2.ShiftRightArithmetic(a1, PrecisionBits));
        var high = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a2, PrecisionBits), Avx2.ShiftRightArithmetic(a3, PrecisionBits));
        // Packing works within 128-bit lanes: 4-byte runs come out as a0[0..3] a1[0..3] a2[0..3] a3[0..3] a0[4..7] ...
        var bytes = Avx2.PackUnsignedSaturate(low, high);
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte();
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
        var firsts = new int[outSize];
        var counts = new int[outSize];
        var weights = new int[outSize * taps];
        var k = new double[taps];
        var maxCount = 0;
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
            firsts[o] = first;
            counts[o] = count;
            maxCount = Math.Max(maxCount, count);
        }
        return new Filter(firsts, counts, weights, taps, maxCount);
    }
}
