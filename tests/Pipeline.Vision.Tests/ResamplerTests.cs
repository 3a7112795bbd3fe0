using Pipeline.Vision;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

/// <summary>The vector resize passes and the vector HWC to CHW transpose give exactly what the scalar loops give (the
/// scalar resize is the one that matches Pillow, see <see cref="PillowParityTests"/>), on random images of awkward sizes.</summary>
public class ResamplerTests
{
    public static TheoryData<int, int, int, int> Sizes => new()
    {
        { 1, 1, 1, 1 },
        { 1, 1, 5, 3 },
        { 1, 1, 40, 1 },
        { 3, 1, 1, 1 },
        { 2, 300, 1, 1 },
        { 7, 5, 3, 2 },
        { 5, 7, 9, 11 },
        { 31, 17, 224, 9 },
        { 33, 29, 17, 61 },
        { 37, 3, 37, 19 },
        { 11, 13, 29, 13 },
        { 320, 240, 224, 224 },
        { 321, 239, 223, 225 },
        { 100, 80, 224, 224 },
        { 640, 3, 5, 7 },
        { 1000, 2, 13, 1 },
        { 300, 200, 3, 2 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Vector_resize_equals_the_scalar_reference(int width, int height, int toWidth, int toHeight)
    {
        var random = new Random(width * 7919 + height * 31 + toWidth * 17 + toHeight);
        foreach (var channels in new[] { 1, 2, 3, 4 })
            foreach (var planar in new[] { false, true })
            {
                var pixels = new byte[width * height * channels];
                random.NextBytes(pixels);
                // Some saturated stretches too, where rounding and clipping meet their limits.
                for (var i = 0; i < pixels.Length; i += 11) pixels[i] = (byte)(i % 3 == 0 ? 0 : 255);
                var scalar = Resampler.Resize(pixels, width, height, channels, planar, toWidth, toHeight, vectorized: false);
                var vector = Resampler.Resize(pixels, width, height, channels, planar, toWidth, toHeight, vectorized: true);
                Assert.True(scalar.AsSpan().SequenceEqual(vector),
                    $"{width}x{height}x{channels} {(planar ? "planar" : "interleaved")} to {toWidth}x{toHeight}: first difference at {FirstDifference(scalar, vector)}");
            }
    }

    [Fact]
    public void The_vector_passes_run_where_the_cpu_has_avx2()
    {
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported, Resampler.Vectorized);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Vector_transpose_to_planes_equals_the_scalar_loop(int channels)
    {
        var random = new Random(channels);
        foreach (var pixelCount in new[] { 1, 3, 4, 5, 15, 16, 17, 33, 224 * 224, 224 * 224 + 7 })
        {
            var pixels = new byte[pixelCount * channels];
            random.NextBytes(pixels);
            var scalar = new byte[pixels.Length];
            var vector = new byte[pixels.Length];
            ImageBuffer.ToPlanar(pixels, scalar, channels, vectorized: false);
            ImageBuffer.ToPlanar(pixels, vector, channels, vectorized: true);
            for (var p = 0; p < pixelCount; p++)
                for (var c = 0; c < channels; c++)
                    Assert.Equal(pixels[p * channels + c], scalar[c * pixelCount + p]);
            Assert.True(scalar.AsSpan().SequenceEqual(vector), $"{pixelCount} pixels of {channels}: first difference at {FirstDifference(scalar, vector)}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void ToTensor_is_the_chw_transpose(int channels)
    {
        var image = TestImages.Pattern(37, 23, channels, seed: 4);
        using var chw = image.ToTensor();
        Assert.Equal([channels, 23L, 37], chw.shape);
        var planes = chw.ToArray<byte>();
        for (var y = 0; y < 23; y++)
            for (var x = 0; x < 37; x++)
                for (var c = 0; c < channels; c++)
                    Assert.Equal(image[y, x, c], planes[(c * 23 + y) * 37 + x]);
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        for (var i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return i;
        return -1;
    }
}
