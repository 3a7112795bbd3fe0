using System.Globalization;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;
using Pipeline.Vision.Transforms;

namespace Pipeline.Vision.Tests;

/// <summary>Acceptance 3 of issue 3: decoding and antialiased resizing agree with Pillow on generated images.</summary>
public class PillowParityTests
{
    // Decodes (and optionally resizes with Image.BILINEAR, Pillow's antialiased filter) then writes raw HWC bytes.
    private const string Script = """
        import sys
        from PIL import Image, ImageOps
        src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3]
        im = ImageOps.exif_transpose(Image.open(src)).convert(mode)
        if len(sys.argv) > 4:
            im = im.resize((int(sys.argv[4]), int(sys.argv[5])), Image.BILINEAR)
        open(dst, "wb").write(im.tobytes())
        print(im.width, im.height)
        """;

    private static ImageBuffer PillowDecode(TempFolder folder, byte[] file, string mode, int channels, (int W, int H)? resize = null)
    {
        var input = folder.Write($"in-{Guid.NewGuid():N}", file);
        var output = folder.File($"out-{Guid.NewGuid():N}");
        string[] args = resize is { } r
            ? [input, output, mode, r.W.ToString(CultureInfo.InvariantCulture), r.H.ToString(CultureInfo.InvariantCulture)]
            : [input, output, mode];
        var size = Pillow.Run(Script, args).Trim().Split(' ').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return new ImageBuffer(size[0], size[1], channels, File.ReadAllBytes(output));
    }

    [Theory]
    [InlineData(3, "RGB")]
    [InlineData(4, "RGBA")]
    [InlineData(1, "L")]
    public void Png_decode_matches_pillow_exactly(int channels, string mode)
    {
        using var folder = new TempFolder();
        var png = PngCodec.Encode(TestImages.Pattern(61, 43, channels, seed: 5));
        var ours = PngCodec.Decode(png, "p.png");
        Assert.Equal(0, TestImages.MaxDifference(PillowDecode(folder, png, mode, channels), ours));
    }

    [Theory]
    [InlineData(3, "RGB", 90)]
    [InlineData(3, "RGB", 60)]
    [InlineData(1, "L", 85)]
    public void Jpeg_decode_matches_pillow_within_one_level(int channels, string mode, int quality)
    {
        using var folder = new TempFolder();
        var jpeg = JpegCodec.Encode(TestImages.Pattern(97, 65, channels, seed: 3), quality);
        var ours = JpegCodec.Decode(jpeg, "j.jpg");
        Assert.True(TestImages.MaxDifference(PillowDecode(folder, jpeg, mode, channels), ours) <= 1);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    [InlineData(3)]
    public void Jpeg_exif_orientation_matches_pillows_exif_transpose(int orientation)
    {
        using var folder = new TempFolder();
        var jpeg = TestImages.WithExifOrientation(JpegCodec.Encode(TestImages.Pattern(40, 24, 3, seed: 9), 92), orientation);
        var ours = JpegCodec.Decode(jpeg, "o.jpg");
        Assert.True(TestImages.MaxDifference(PillowDecode(folder, jpeg, "RGB", 3), ours) <= 1);
    }

    [Theory]
    [InlineData(160, 120, 37, 29)]
    [InlineData(100, 80, 224, 224)]
    [InlineData(300, 200, 224, 224)]
    public void Antialiased_resize_matches_pillow(int width, int height, int toWidth, int toHeight)
    {
        using var folder = new TempFolder();
        var png = PngCodec.Encode(TestImages.Pattern(width, height, 3, seed: 11));
        var pillow = PillowDecode(folder, png, "RGB", 3, (toWidth, toHeight));
        var decoded = PngCodec.Decode(png, "r.png");
        // The CPU path computes as Pillow does: equal.
        Assert.Equal(0, TestImages.MaxDifference(pillow, Resampler.Resize(decoded, toWidth, toHeight)));
        using var chw = decoded.ToTensor();
        using var viaTensor = ImageOps.Resize(chw, toHeight, toWidth);
        Assert.Equal(0, TestImages.MaxDifference(pillow, ImageBuffer.FromTensor(viaTensor)));
        // libtorch's float path (GPU tensors, float images) resamples in float: a level or two apart, rarely.
        using var asFloat = chw.to(Pipeline.Torch.ScalarType.Float32);
        using var floatResized = ImageOps.Resize(asFloat, toHeight, toWidth);
        using var rounded = floatResized.round().clamp(0, 255).to(Pipeline.Torch.ScalarType.Byte);
        var viaTorch = ImageBuffer.FromTensor(rounded);
        Assert.True(TestImages.MaxDifference(pillow, viaTorch) <= 2, $"max difference {TestImages.MaxDifference(pillow, viaTorch)}");
        Assert.True(TestImages.MeanDifference(pillow, viaTorch) < 0.3, $"mean difference {TestImages.MeanDifference(pillow, viaTorch)}");
    }
}
