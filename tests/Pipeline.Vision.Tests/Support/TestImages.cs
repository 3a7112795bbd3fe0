using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Tests.Support;

/// <summary>Generated images: smooth gradients with a little seeded noise and an edge, so that codecs and resizing
/// have real structure to get right.</summary>
public static class TestImages
{
    public static ImageBuffer Pattern(int width, int height, int channels, int seed = 1)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * channels];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var c = 0; c < channels; c++)
                {
                    var value = c switch
                    {
                        0 => 255.0 * x / Math.Max(1, width - 1),
                        1 => 255.0 * y / Math.Max(1, height - 1),
                        2 => (x / 8 + y / 8) % 2 == 0 ? 200.0 : 40.0,
                        _ => 128 + 100 * Math.Sin(x * 0.3 + y * 0.2),
                    };
                    value += random.Next(-12, 13);
                    pixels[(y * width + x) * channels + c] = (byte)Math.Clamp(value, 0, 255);
                }
        return new ImageBuffer(width, height, channels, pixels);
    }

    /// <summary>Distinct values at every position, so that any misplaced pixel shows.</summary>
    public static ImageBuffer Numbered(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        for (var k = 0; k < pixels.Length; k++) pixels[k] = (byte)(k * 7 + k / 251);
        return new ImageBuffer(width, height, channels, pixels);
    }

    public static int MaxDifference(ImageBuffer a, ImageBuffer b)
    {
        Assert.Equal((a.Width, a.Height, a.Channels), (b.Width, b.Height, b.Channels));
        var max = 0;
        for (var k = 0; k < a.Pixels.Length; k++) max = Math.Max(max, Math.Abs(a.Pixels[k] - b.Pixels[k]));
        return max;
    }

    public static double MeanDifference(ImageBuffer a, ImageBuffer b)
    {
        Assert.Equal((a.Width, a.Height, a.Channels), (b.Width, b.Height, b.Channels));
        long sum = 0;
        for (var k = 0; k < a.Pixels.Length; k++) sum += Math.Abs(a.Pixels[k] - b.Pixels[k]);
        return (double)sum / a.Pixels.Length;
    }

    /// <summary>A JPEG with an EXIF APP1 segment holding only the Orientation tag, inserted after SOI.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation, bool bigEndian = false)
    {
        var tiff = new List<byte>();
        void U16(int v) { if (bigEndian) tiff.AddRange([(byte)(v >> 8), (byte)v]); else tiff.AddRange([(byte)v, (byte)(v >> 8)]); }
        void U32(int v) { if (bigEndian) tiff.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]); else tiff.AddRange([(byte)v, (byte)(v >> 8), (byte)(v >> 16), (byte)(v >> 24)]); }
        tiff.AddRange(bigEndian ? "MM"u8.ToArray() : "II"u8.ToArray());
        U16(42);
        U32(8);
        U16(1);
        U16(0x0112); U16(3); U32(1); U16(orientation); U16(0);
        U32(0);
        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        var length = payload.Length + 2;
        return [0xFF, 0xD8, 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload, .. jpeg.AsSpan(2)];
    }
}
