using System.Diagnostics;
using System.Globalization;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Imaging;
using static Pipeline.Torch.torch;

namespace Pipeline.Bench;

/// <summary>
/// Issue 3's decode benchmark: the same generated JPEG photos-sized images decoded and resized to 224x224 by our codec
/// and resize and by Pillow, one core each; then the time to load all 70,000 Fashion-MNIST images into tensors.
/// </summary>
internal static class DecodeBenchmark
{
    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        const int rounds = 3;
        set_num_threads(1);
        var folder = Directory.CreateTempSubdirectory("decode-bench-");
        try
        {
            var files = MakeJpegs(folder.FullName, count);
            var list = Path.Combine(folder.FullName, "files.txt");
            File.WriteAllLines(list, files);

            var ours = double.MaxValue;
            for (var round = 0; round < rounds; round++)
            {
                var watch = Stopwatch.StartNew();
                foreach (var file in files)
                {
                    using var scope = NewDisposeScope();
                    var image = JpegCodec.Decode(File.ReadAllBytes(file), file, ColorMode.Rgb);
                    Resampler.Resize(image, 224, 224).ToTensor();
                }
                ours = Math.Min(ours, watch.Elapsed.TotalSeconds);
            }
            var oursPerS = files.Count / ours;
            var pillowPerS = PeerProcess.RunPython("decode_bench.py", "pillow_per_s", 1, list, rounds.ToString(CultureInfo.InvariantCulture));

            var idx = Stopwatch.StartNew();
            using (var train = FashionMnist.Load(FashionMnist.DebianPath, "train"))
            using (var test = FashionMnist.Load(FashionMnist.DebianPath, "t10k"))
            {
                if (train.Count + test.Count != 70000) throw new InvalidOperationException("Fashion-MNIST should hold 70,000 images");
            }
            var idxSeconds = idx.Elapsed.TotalSeconds;

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{files.Count} JPEGs of 640x480 decoded to RGB and resized to 224x224 (antialiased bilinear), one core each, best of {rounds}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idx_load_s={idxSeconds:0.###}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"decode ours_per_s={oursPerS:0.0} pillow_per_s={pillowPerS:0.0} ratio={oursPerS / pillowPerS:0.00}"));
            return 0;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    // Photo-sized canvases with pasted objects: smooth areas, edges and grain, at quality 90 as cameras write them.
    private static List<string> MakeJpegs(string folder, int count)
    {
        var generator = new DetectionSetGenerator();
        var options = new DetectionSetOptions { Width = 640, Height = 480, MinSide = 60, MaxSide = 240, MaxObjects = 6 };
        var files = new List<string>();
        for (var k = 0; k < count; k++)
        {
            var (image, _) = generator.Compose(options, new Random(k));
            var path = Path.Combine(folder, $"{k:D4}.jpg");
            File.WriteAllBytes(path, JpegCodec.Encode(image, 90));
            files.Add(path);
        }
        return files;
    }
}
