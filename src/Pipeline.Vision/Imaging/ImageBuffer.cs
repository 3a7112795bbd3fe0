using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Imaging;

/// <summary>A decoded 8-bit image in HWC order (rows of interleaved channels): 1 = gray, 3 = RGB, 4 = RGBA.</summary>
public sealed class ImageBuffer
{
    public ImageBuffer(int width, int height, int channels, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        if (channels is not (1 or 2 or 3 or 4)) throw new ArgumentException($"channels must be 1 to 4, got {channels}", nameof(channels));
        if (pixels.LongLength != (long)width * height * channels)
            throw new ArgumentException($"{width}x{height}x{channels} needs {(long)width * height * channels} bytes, got {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    public byte this[int y, int x, int c] => Pixels[((long)y * Width + x) * Channels + c];

    /// <summary>A (C, H, W) uint8 tensor on the CPU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Tensor ToTensor()
    {
        if (Channels == 1) return tensor(Pixels, [1, Height, Width]);
        // Transposed here rather than by a libtorch permute: one pass, no intra-op thread wake-ups per image.
        // The planar copy is pooled: the tensor copies it, and large arrays per image would churn the large-object heap.
        var planes = ArrayPool<byte>.Shared.Rent(Pixels.Length);
        try
        {
            ToPlanar(Pixels, planes.AsSpan(0, Pixels.Length), Channels, Ssse3.IsSupported);
            var chw = empty([Channels, Height, Width], ScalarType.Byte);
            planes.AsSpan(0, Pixels.Length).CopyTo(chw.bytes);
            return chw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(planes);
        }
    }

    /// <summary>Writes interleaved pixels of <paramref name="channels"/> channels as planes, one channel after another;
    /// three and four channels by byte shuffles 16 bytes at a time where <paramref name="vectorized"/> (SSSE3), the rest
    /// (and everything otherwise) by the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ToPlanar(ReadOnlySpan<byte> interleaved, Span<byte> planar, int channels, bool vectorized)
    {
        if (planar.Length != interleaved.Length) throw new ArgumentException("planar and interleaved lengths differ", nameof(planar));
        var plane = interleaved.Length / channels;
        var done = 0;
        fixed (byte* s = interleaved)
        fixed (byte* d = planar)
        {
            if (vectorized && Ssse3.IsSupported && channels == 3)
            {
                // 16 pixels from three 16-byte loads: each plane's 16 bytes are the OR of three shuffles, one per load.
                Span<byte> masks = stackalloc byte[9 * 16];
                for (var c = 0; c < 3; c++)
                    for (var v = 0; v < 3; v++)
                        for (var i = 0; i < 16; i++)
                        {
                            var at = 3 * i + c;
                            masks[(c * 3 + v) * 16 + i] = (byte)(at / 16 == v ? at % 16 : 0x80);
                        }
                var m = MemoryMarshal.Cast<byte, Vector128<byte>>(masks);
                Vector128<byte> r0 = m[0], r1 = m[1], r2 = m[2], g0 = m[3], g1 = m[4], g2 = m[5], b0 = m[6], b1 = m[7], b2 = m[8];
                for (; done + 16 <= plane; done += 16)
                {
                    var p = s + done * 3;
                    var v0 = Vector128.Load(p);
                    var v1 = Vector128.Load(p + 16);
                    var v2 = Vector128.Load(p + 32);
                    (Ssse3.Shuffle(v0, r0) | Ssse3.Shuffle(v1, r1) | Ssse3.Shuffle(v2, r2)).Store(d + done);
                    (Ssse3.Shuffle(v0, g0) | Ssse3.Shuffle(v1, g1) | Ssse3.Shuffle(v2, g2)).Store(d + plane + done);
                    (Ssse3.Shuffle(v0, b0) | Ssse3.Shuffle(v1, b1) | Ssse3.Shuffle(v2, b2)).Store(d + 2 * plane + done);
                }
            }
            else if (vectorized && Ssse3.IsSupported && channels == 4)
            {
                // 4 pixels from one load, shuffled to 4 bytes of each channel in turn.
                var order = Vector128.Create((byte)0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                for (; done + 4 <= plane; done += 4)
                {
                    var runs = Ssse3.Shuffle(Vector128.Load(s + done * 4), order).AsUInt32();
                    *(uint*)(d + done) = runs.GetElement(0);
                    *(uint*)(d + plane + done) = runs.GetElement(1);
                    *(uint*)(d + 2 * plane + done) = runs.GetElement(2);
                    *(uint*)(d + 3 * plane + done) = runs.GetElement(3);
                }
            }
            for (var c = 0; c < channels; c++)
            {
                var target = d + c * plane;
                for (var p = done; p < plane; p++) target[p] = s[p * channels + c];
            }
        }
    }

    /// <summary>An image from a (C, H, W) uint8 tensor (on any device).</summary>
    public static ImageBuffer FromTensor(Tensor chw)
    {
        ArgumentNullException.ThrowIfNull(chw);
        if (chw.dim() != 3 || chw.dtype != ScalarType.Byte)
            throw new ArgumentException($"expected a (C, H, W) uint8 tensor, got {chw.dtype} [{string.Join(", ", chw.shape)}]", nameof(chw));
        using var hwc = chw.permute(1, 2, 0);
        using var cpu = hwc.cpu();
        using var dense = cpu.contiguous();
        return new ImageBuffer((int)chw.shape[2], (int)chw.shape[1], (int)chw.shape[0], dense.ToArray<byte>());
    }
}
