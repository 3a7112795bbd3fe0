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
        im = Image.open(src)
        if len(sys.argv) > 6:
            im.draft(mode, (int(sys.argv[6]), int(sys.argv[6])))
        im = ImageOps.exif_transpose(im).convert(mode)
        if len(sys.argv) > 4 and sys.argv[4] != "0":
            im = im.resize((int(sys.argv[4]), int(sys.argv[5])), Image.BILINEAR)
        open(dst, "wb").write(im.tobytes())
        print(im.width, im.height)
        """;

    private static ImageBuffer PillowDecode(TempFolder folder, byte[] file, string mode, int channels, (int W, int H)? resize = null, int? draft = null)
    {
        var input = folder.Write($"in-{Guid.NewGuid():N}", file);
        var output = folder.File($"out-{Guid.NewGuid():N}");
        var (w, h) = resize ?? (0, 0);
        string[] args = [input, output, mode, w.ToString(CultureInfo.InvariantCulture), h.ToString(CultureInfo.InvariantCulture),
            (draft ?? 0).ToString(CultureInfo.InvariantCulture)];
        if (draft is null) args = args[..5];
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
    [InlineData(3, "RGB")]
    [InlineData(1, "L")]
    public void Cmyk_jpeg_decodes_as_pillow_converts_it(int channels, string mode)
    {
        // Pillow writes CMYK JPEGs as print tools do (Adobe marker, inverted ink); they used to be refused as unsupported.
        using var folder = new TempFolder();
        var rgb = folder.Write("rgb.png", PngCodec.Encode(TestImages.Pattern(53, 37, 3, seed: 9)));
        var path = folder.File("cmyk.jpg");
        Pillow.Run("import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('CMYK').save(sys.argv[2], quality=92)", rgb, path);
        var jpeg = File.ReadAllBytes(path);
        var ours = JpegCodec.Decode(jpeg, "cmyk.jpg", channels == 1 ? ColorMode.Gray : ColorMode.Rgb);
        Assert.Equal((53, 37, channels), (ours.Width, ours.Height, ours.Channels));
        Assert.True(TestImages.MaxDifference(PillowDecode(folder, jpeg, mode, channels), ours) <= 1);
        // The validator decodes it too: it is a usable image, not a problem.
        Assert.Equal((53, 37), (ImageDecoder.Default.Decode(jpeg, "cmyk.jpg").Width, ImageDecoder.Default.Decode(jpeg, "cmyk.jpg").Height));
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
    [InlineData(1, 640, 480, 320, 240)]
    [InlineData(1, 1000, 600, 500, 300)]
    [InlineData(1, 400, 300, 400, 300)]
    [InlineData(6, 640, 480, 240, 320)]
    public void Reduced_jpeg_decode_matches_pillows_draft(int orientation, int width, int height, int expectWidth, int expectHeight)
    {
        using var folder = new TempFolder();
        var jpeg = TestImages.WithExifOrientation(JpegCodec.Encode(TestImages.Pattern(width, height, 3, seed: 2), 90), orientation);
        // The largest DCT reduction that keeps the upright image at least 224 (Pillow's draft asks the same of libjpeg).
        var ours = JpegCodec.Decode(jpeg, "big.jpg", ColorMode.Rgb, atLeast: (224, 224));
        Assert.Equal((expectWidth, expectHeight), (ours.Width, ours.Height));
        Assert.True(TestImages.MaxDifference(PillowDecode(folder, jpeg, "RGB", 3, draft: 224), ours) <= 1);
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
        using var asFloat = chw.to(TorchSharp.torch.ScalarType.Float32);
        using var floatResized = ImageOps.Resize(asFloat, toHeight, toWidth);
        using var rounded = floatResized.round().clamp(0, 255).to(TorchSharp.torch.ScalarType.Byte);
        var viaTorch = ImageBuffer.FromTensor(rounded);
        Assert.True(TestImages.MaxDifference(pillow, viaTorch) <= 2, $"max difference {TestImages.MaxDifference(pillow, viaTorch)}");
        Assert.True(TestImages.MeanDifference(pillow, viaTorch) < 0.3, $"mean difference {TestImages.MeanDifference(pillow, viaTorch)}");
    }
}
