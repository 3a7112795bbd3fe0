using System.Buffers;
using System.Runtime.CompilerServices;
using Pipeline.Torch;
using static Pipeline.Torch.torch;

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
            var plane = Width * Height;
            for (var c = 0; c < Channels; c++)
            {
                var source = Pixels.AsSpan(c);
                var target = planes.AsSpan(c * plane, plane);
                for (var p = 0; p < plane; p++) target[p] = source[p * Channels];
            }
            return tensor(planes.AsSpan(0, Pixels.Length), [Channels, Height, Width]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(planes);
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
