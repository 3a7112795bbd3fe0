using Pipeline.Vision;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

public class CodecTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png_round_trips_exactly(int channels)
    {
        var image = TestImages.Pattern(37, 23, channels);
        var decoded = PngCodec.Decode(PngCodec.Encode(image), "x.png");
        Assert.Equal(0, TestImages.MaxDifference(image, decoded));
    }

    [Fact]
    public void Png_decodes_to_the_requested_channels()
    {
        var rgb = TestImages.Pattern(8, 6, 3);
        var bytes = PngCodec.Encode(rgb);
        var rgba = PngCodec.Decode(bytes, "x.png", ColorMode.Rgba);
        Assert.Equal(4, rgba.Channels);
        Assert.Equal(255, rgba[5, 7, 3]);
        Assert.Equal(rgb[5, 7, 2], rgba[5, 7, 2]);
        Assert.Equal(1, PngCodec.Decode(bytes, "x.png", ColorMode.Gray).Channels);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Jpeg_round_trips_closely(int channels)
    {
        var image = TestImages.Pattern(64, 48, channels);
        var bytes = JpegCodec.Encode(image, quality: 95);
        var decoded = JpegCodec.Decode(bytes, "x.jpg");
        Assert.Equal(channels, decoded.Channels);
        // The pattern's per-pixel noise is what JPEG (4:2:0 chroma) loses most; a wrong decode is off by tens.
        Assert.True(TestImages.MeanDifference(image, decoded) < 12, $"mean difference {TestImages.MeanDifference(image, decoded)}");
    }

    [Fact]
    public void Header_gives_size_and_format_without_decoding()
    {
        var png = PngCodec.Encode(TestImages.Pattern(33, 17, 3));
        var jpeg = JpegCodec.Encode(TestImages.Pattern(40, 24, 3));
        Assert.Equal(new ImageInfo(ImageFormat.Png, 33, 17, 1), ImageHeaderReader.Read(png, "a.png"));
        Assert.Equal(new ImageInfo(ImageFormat.Jpeg, 40, 24, 1), ImageHeaderReader.Read(jpeg, "a.jpg"));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    [InlineData(5, true)]
    [InlineData(6, false)]
    [InlineData(7, true)]
    [InlineData(8, false)]
    public void Exif_orientation_turns_the_image_upright(int orientation, bool bigEndian)
    {
        // Lossless check of the geometry: quality 100 gray JPEG of a coarse pattern decodes near-exactly.
        var stored = TestImages.Pattern(24, 16, 1);
        var jpeg = TestImages.WithExifOrientation(JpegCodec.Encode(stored, 100), orientation, bigEndian);
        var info = ImageHeaderReader.Read(jpeg, "o.jpg");
        Assert.Equal(orientation, info.Orientation);
        var decoded = JpegCodec.Decode(jpeg, "o.jpg");
        var plain = JpegCodec.Decode(JpegCodec.Encode(stored, 100), "p.jpg");
        Assert.Equal((info.Width, info.Height), (decoded.Width, decoded.Height));
        Assert.Equal(orientation >= 5 ? (16, 24) : (24, 16), (decoded.Width, decoded.Height));
        // Display position (x, y) shows stored pixel (sx, sy), per the EXIF definition of each orientation.
        for (var y = 0; y < decoded.Height; y++)
            for (var x = 0; x < decoded.Width; x++)
            {
                var (sx, sy) = orientation switch
                {
                    1 => (x, y), 2 => (23 - x, y), 3 => (23 - x, 15 - y), 4 => (x, 15 - y),
                    5 => (y, x), 6 => (y, 15 - x), 7 => (23 - y, 15 - x), _ => (23 - y, x),
                };
                Assert.Equal(plain[sy, sx, 0], decoded[y, x, 0]);
            }
    }

    [Fact]
    public void Truncated_jpeg_is_reported_as_truncated_naming_the_file()
    {
        var jpeg = JpegCodec.Encode(TestImages.Pattern(64, 64, 3));
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Default.Decode(jpeg.AsSpan(0, jpeg.Length / 2), "/data/cut.jpg"));
        Assert.Equal(ImageFault.Truncated, e.Fault);
        Assert.StartsWith("/data/cut.jpg: truncated JPEG", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_png_is_reported_as_truncated_naming_the_file()
    {
        var png = PngCodec.Encode(TestImages.Pattern(64, 64, 3));
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Default.Decode(png.AsSpan(0, png.Length / 2), "/data/cut.png"));
        Assert.Equal(ImageFault.Truncated, e.Fault);
        Assert.StartsWith("/data/cut.png: truncated PNG", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_png_data_is_unreadable()
    {
        var png = PngCodec.Encode(TestImages.Pattern(64, 64, 3));
        // Scramble the compressed data inside IDAT (after signature, IHDR and the IDAT header), keeping IEND.
        for (var k = 45; k < png.Length - 20; k++) png[k] ^= 0x5A;
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Default.Decode(png, "bad.png"));
        Assert.Equal(ImageFault.Unreadable, e.Fault);
        Assert.StartsWith("bad.png: corrupt PNG", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[0], "empty file")]
    [InlineData(new byte[] { (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'9', (byte)'a' }, "not a JPEG or PNG image")]
    public void Non_images_are_unreadable(byte[] bytes, string problem)
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Default.Decode(bytes, "thing.jpg"));
        Assert.Equal(ImageFault.Unreadable, e.Fault);
        Assert.StartsWith("thing.jpg: " + problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_decompression_bomb_is_refused_from_its_header()
    {
        // A real 1x1 PNG whose IHDR claims 60000 x 60000: refused before libpng sees it.
        var png = PngCodec.Encode(TestImages.Pattern(1, 1, 1));
        byte[] big = [0, 0, 0xEA, 0x60];
        big.CopyTo(png, 16);
        big.CopyTo(png, 20);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Default.Decode(png, "bomb.png"));
        Assert.Equal(ImageFault.TooManyPixels, e.Fault);
        Assert.Contains("bomb.png: image declares 60000x60000 = 3600000000 pixels", e.Message, StringComparison.Ordinal);
        // The codecs refuse it on their own too.
        Assert.Equal(ImageFault.TooManyPixels, Assert.Throws<ImageDecodeException>(() => PngCodec.Decode(png, "bomb.png")).Fault);
        var jpeg = JpegCodec.Encode(TestImages.Pattern(300, 200, 3));
        var limited = Assert.Throws<ImageDecodeException>(() => JpegCodec.Decode(jpeg, "big.jpg", maxPixels: 50_000));
        Assert.Equal(ImageFault.TooManyPixels, limited.Fault);
        Assert.Contains("300x200 = 60000 pixels, over the limit of 50000", limited.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tensor_conversion_is_chw_and_back()
    {
        var image = TestImages.Numbered(5, 3, 3);
        using var chw = image.ToTensor();
        Assert.Equal([3L, 3, 5], chw.shape);
        Assert.Equal(image[2, 4, 1], chw.ToArray<byte>()[(1 * 3 + 2) * 5 + 4]);
        Assert.Equal(image.Pixels, ImageBuffer.FromTensor(chw).Pixels);
    }
}
