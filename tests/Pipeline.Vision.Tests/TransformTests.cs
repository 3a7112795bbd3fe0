using Pipeline.Vision;
using TorchSharp;
using Pipeline.Vision.Data;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Sampling;
using Pipeline.Vision.Tests.Support;
using Pipeline.Vision.Transforms;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

public class TransformTests
{
    private static Tensor Image(int w = 32, int h = 24, int c = 3) => TestImages.Numbered(w, h, c).ToTensor();

    private static byte[] Bytes(Tensor t)
    {
        using var cpu = t.cpu();
        using var dense = cpu.contiguous();
        return dense.ToArray<byte>();
    }

    [Fact]
    public void Random_transforms_are_deterministic_under_a_seed()
    {
        var pipeline = new Compose(new RandomResizedCrop(16, 16), new RandomFlip(), new RandomRotation(30), new ColorJitter(0.4, 0.4, 0.4, 0.1), new Cutout(0.3));
        using var image = Image();
        using var a = pipeline.Apply(image, SeedMix.Random(7, 0, 3));
        using var b = pipeline.Apply(image, SeedMix.Random(7, 0, 3));
        using var c = pipeline.Apply(image, SeedMix.Random(7, 1, 3));
        Assert.Equal([3L, 16, 16], a.shape);
        Assert.Equal(ScalarType.Byte, a.dtype);
        Assert.Equal(Bytes(a), Bytes(b));
        Assert.NotEqual(Bytes(a), Bytes(c));
    }

    [Fact]
    public void Flip_mirrors_columns()
    {
        using var image = Image(5, 3, 1);
        using var flipped = new RandomFlip(horizontal: true, p: 1).Apply(image, new Random(1));
        var (src, dst) = (Bytes(image), Bytes(flipped));
        Assert.Equal(src[1 * 5 + 0], dst[1 * 5 + 4]);
        using var kept = new RandomFlip(horizontal: true, p: 0).Apply(image, new Random(1));
        Assert.Equal(src, Bytes(kept));
    }

    [Fact]
    public void Rotation_by_quarter_turns_moves_pixels_exactly()
    {
        using var image = Image(7, 7, 1);
        using var rotated = RandomRotation.Rotate(image, 90);
        var (src, dst) = (Bytes(image), Bytes(rotated));
        // Counter-clockwise: the top-right corner comes to the top-left.
        Assert.Equal(src[0 * 7 + 6], dst[0 * 7 + 0]);
        Assert.Equal(src[6 * 7 + 6], dst[0 * 7 + 6]);
        using var zero = RandomRotation.Rotate(image, 0);
        Assert.Equal(src, Bytes(zero));
        using var tilted = RandomRotation.Rotate(image, 45, fill: 0);
        Assert.Equal(0, Bytes(tilted)[0]);
    }

    [Fact]
    public void Normalize_scales_uint8_and_applies_mean_and_std()
    {
        using var image = full([3, 2, 2], 255, ScalarType.Byte);
        using var normalized = Normalize.ImageNet().Apply(image, new Random(0));
        Assert.Equal(ScalarType.Float32, normalized.dtype);
        var values = normalized.ToArray<float>();
        Assert.Equal((1 - 0.485) / 0.229, values[0], 4);
        Assert.Equal((1 - 0.406) / 0.225, values[^1], 4);
    }

    [Fact]
    public void Color_jitter_keeps_the_range_and_gray_stays_gray()
    {
        using var gray = full([3, 4, 4], 100, ScalarType.Byte);
        using var jittered = new ColorJitter(0.5, 0.5, 0.9).Apply(gray, new Random(3));
        var v = Bytes(jittered);
        Assert.All(v, p => Assert.Equal(v[0], p));
    }

    [Fact]
    public void Hue_turns_colours_and_keeps_gray()
    {
        using var red = tensor(new float[] { 1, 0, 0 }, [3, 1, 1]);
        using var half = ColorJitter.HueRotation(0.5).matmul(red.reshape(3, 1));
        var turned = half.ToArray<float>();
        // Half a turn moves red towards cyan: red falls, green and blue rise.
        Assert.True(turned[0] < 0.3 && turned[1] > 0.2 && turned[2] > 0.2, string.Join(", ", turned));
        using var none = ColorJitter.HueRotation(0);
        var identity = none.ToArray<float>();
        for (var k = 0; k < 9; k++) Assert.Equal(k % 4 == 0 ? 1f : 0f, identity[k], 2);
        using var gray = full([3, 4, 4], 90, ScalarType.Byte);
        using var jittered = new ColorJitter(hue: 0.5).Apply(gray, new Random(2));
        Assert.All(Bytes(jittered), p => Assert.InRange(p, 89, 91));
    }

    [Fact]
    public void Cutout_blanks_a_square()
    {
        using var image = full([1, 20, 20], 200, ScalarType.Byte);
        using var cut = new Cutout(0.5, count: 1, fill: 0).Apply(image, new Random(4));
        var zeros = Bytes(cut).Count(p => p == 0);
        Assert.InRange(zeros, 1, 100);
    }

    [Fact]
    public void Mixup_and_cutmix_targets_are_soft_and_sum_to_one()
    {
        using var scope = NewDisposeScope();
        var images = rand([4, 3, 8, 8]);
        var labels = tensor(new long[] { 0, 1, 2, 1 });
        foreach (var (mixed, targets) in new[] { BatchMixing.MixUp(images, labels, 3, 0.4, new Random(1)), BatchMixing.CutMix(images, labels, 3, 1.0, new Random(2)) })
        {
            Assert.Equal([4L, 3, 8, 8], mixed.shape);
            Assert.Equal([4L, 3], targets.shape);
            foreach (var total in targets.sum(1).ToArray<float>()) Assert.Equal(1f, total, 5);
        }
        var lambdas = Enumerable.Range(0, 2000).Select(k => BatchMixing.Beta(new Random(k), 0.4)).ToList();
        Assert.All(lambdas, l => Assert.InRange(l, 0, 1));
        Assert.Equal(0.5, lambdas.Average(), 1);
    }

    [Fact]
    public void Box_aware_flip_and_resize_move_boxes_with_pixels()
    {
        using var image = Image(40, 20, 3);
        var sample = new DetectionSample(image, [new BoundingBox(2, 4, 12, 10, 1)]);
        var flipped = new RandomFlipWithBoxes(horizontal: true, p: 1).Apply(sample, new Random(0));
        using (flipped.Image) Assert.Equal(new BoundingBox(28, 4, 38, 10, 1), Assert.Single(flipped.Boxes));
        var resized = new ResizeWithBoxes(10, 80).Apply(sample, new Random(0));
        using (resized.Image)
        {
            Assert.Equal([3L, 10, 80], resized.Image.shape);
            Assert.Equal(new BoundingBox(4, 2, 24, 5, 1), Assert.Single(resized.Boxes));
        }
    }

    [Fact]
    public void Letterbox_keeps_aspect_and_pads_and_boxes_follow()
    {
        using var image = Image(40, 20, 3);
        var letterbox = new Letterbox(64);
        var result = letterbox.Apply(new DetectionSample(image, [new BoundingBox(0, 0, 40, 20, 0), new BoundingBox(10, 5, 20, 15, 1)]), new Random(0));
        using (result.Image)
        {
            Assert.Equal([3L, 64, 64], result.Image.shape);
            Assert.Equal((1.6, 64, 32, 0, 16), letterbox.Geometry(40, 20));
            Assert.Equal(new BoundingBox(0, 16, 64, 48, 0), result.Boxes[0]);
            Assert.Equal(new BoundingBox(16, 24, 32, 40, 1), result.Boxes[1]);
            Assert.Equal(114, Bytes(result.Image)[0]);
        }
    }

    [Fact]
    public void Crop_clips_boxes_and_drops_those_left_outside()
    {
        using var image = Image(100, 100, 1);
        var sample = new DetectionSample(image, [new BoundingBox(0, 0, 100, 100, 0), new BoundingBox(0, 0, 0.5, 0.5, 1)]);
        for (var seed = 0; seed < 20; seed++)
        {
            var cropped = new RandomCropWithBoxes(0.3).Apply(sample, new Random(seed));
            using (cropped.Image)
            {
                int h = (int)cropped.Image.shape[1], w = (int)cropped.Image.shape[2];
                // The whole-image box becomes the whole crop; the tiny corner box never survives.
                Assert.Equal(new BoundingBox(0, 0, w, h, 0), Assert.Single(cropped.Boxes));
            }
        }
    }

    [CudaFact]
    public void Transforms_run_on_cuda_like_on_the_cpu()
    {
        using var image = Image();
        using var gpu = image.cuda();
        var pipeline = new Compose(new RandomResizedCrop(16, 16), new RandomFlip(), new RandomRotation(20), new ColorJitter(0.3, 0.3, 0.3), new Cutout());
        using var onCpu = pipeline.Apply(image, new Random(5));
        using var onGpu = pipeline.Apply(gpu, new Random(5));
        Assert.Equal(DeviceType.CUDA, onGpu.device.type);
        var (c, g) = (Bytes(onCpu), Bytes(onGpu));
        Assert.True(c.Zip(g).Max(p => Math.Abs(p.First - p.Second)) <= 1);
    }

    [Fact]
    public void Classification_dataset_decodes_into_training_tensors()
    {
        using var folder = new TempFolder();
        folder.Write("train/a/1.png", PngCodec.Encode(TestImages.Pattern(40, 30, 3, 1)));
        folder.Write("train/b/2.jpg", JpegCodec.Encode(TestImages.Pattern(20, 20, 1, 2)));
        folder.Write("val/b/3.png", PngCodec.Encode(TestImages.Pattern(16, 16, 3, 3)));
        using var source = new Pipeline.Vision.Data.Sources.FolderSource(folder.Path);
        var dataset = DatasetLoader.Load(source).Dataset;
        using var train = DatasetTensors.ToTensorDataset(dataset, source, DatasetSplit.Train, 16, 16);
        Assert.Equal([2L, 3, 16, 16], train.Images.shape);
        Assert.Equal([0L, 1], train.Labels.ToArray<long>());
        Assert.Equal(["a", "b"], train.Classes);
    }
}
