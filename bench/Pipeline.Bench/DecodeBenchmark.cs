using System.Diagnostics;
using System.Globalization;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Imaging;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// Issue 3's decode benchmark: the same generated photo-sized JPEG images decoded and resized to 224x224 by our codec
/// and resampler and by Pillow, one core each — with DCT-domain reduction on both sides (our atLeast decode, Pillow's
/// draft), the way a loader that knows its target size decodes, and as full-size decodes; then the time to load all
/// 70,000 Fashion-MNIST images into tensors.
/// </summary>
internal static class DecodeBenchmark
{
    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        const int rounds = 5;
        set_num_threads(1);
        var folder = Directory.CreateTempSubdirectory("decode-bench-");
        try
        {
            var files = MakeJpegs(folder.FullName, count);
            var list = Path.Combine(folder.FullName, "files.txt");
            File.WriteAllLines(list, files);

            var fullPerS = files.Count / Best(files, rounds, reduced: false);
            var pillowFullPerS = PeerProcess.RunPython("decode_bench.py", "pillow_per_s", 1, list, rounds.ToString(CultureInfo.InvariantCulture));
            var oursPerS = files.Count / Best(files, rounds, reduced: true);
            var pillowPerS = PeerProcess.RunPython("decode_bench.py", "pillow_per_s", 1, list, rounds.ToString(CultureInfo.InvariantCulture), "draft");

            var idx = Stopwatch.StartNew();
            using (var train = FashionMnist.Load(FashionMnist.DebianPath, "train"))
            using (var test = FashionMnist.Load(FashionMnist.DebianPath, "t10k"))
            {
                if (train.Count + test.Count != 70000) throw new InvalidOperationException("Fashion-MNIST should hold 70,000 images");
            }
            var idxSeconds = idx.Elapsed.TotalSeconds;

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{files.Count} JPEGs of 640x480 decoded to RGB and resized to 224x224 (antialiased bilinear), one core each, best of {rounds}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idx_load_s={idxSeconds:0.###}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"decode_full ours_per_s={fullPerS:0.0} pillow_per_s={pillowFullPerS:0.0} ratio={fullPerS / pillowFullPerS:0.00} (full-size decode, then resize)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"decode ours_per_s={oursPerS:0.0} pillow_per_s={pillowPerS:0.0} ratio={oursPerS / pillowPerS:0.00}"));
            return 0;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    // Seconds for the best round: decode (full size, or DCT-reduced to at least 224x224 as Pillow's draft), resize, to tensor.
    private static double Best(List<string> files, int rounds, bool reduced)
    {
        var best = double.MaxValue;
        for (var round = 0; round < rounds; round++)
        {
            var watch = Stopwatch.StartNew();
            foreach (var file in files)
            {
                using var scope = NewDisposeScope();
                var image = JpegCodec.Decode(File.ReadAllBytes(file), file, ColorMode.Rgb, reduced ? (224, 224) : null);
                Resampler.Resize(image, 224, 224).ToTensor();
            }
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return best;
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
