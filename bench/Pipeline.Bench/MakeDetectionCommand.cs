using System.Globalization;
using Pipeline.Vision.Data.Synthetic;

namespace Pipeline.Bench;

/// <summary>
/// <c>make-detection OUT [--seed N] [--train N] [--val N] [--test N] [--width W] [--height H]</c>: writes the generated detection set
/// (COCO and PaliGemma JSONL) that the detection tests and benchmarks use.
/// </summary>
internal static class MakeDetectionCommand
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            Console.Error.WriteLine("usage: make-detection OUT [--seed N] [--train N] [--val N] [--test N] [--width W] [--height H]");
            return 2;
        }
        var options = new DetectionSetOptions();
        for (var k = 1; k < args.Length; k += 2)
        {
            if (k + 1 >= args.Length) { Console.Error.WriteLine($"{args[k]} needs a value"); return 2; }
            var value = int.Parse(args[k + 1], CultureInfo.InvariantCulture);
            options = args[k] switch
            {
                "--seed" => options with { Seed = value },
                "--train" => options with { TrainImages = value },
                "--val" => options with { ValImages = value },
                "--test" => options with { TestImages = value },
                "--width" => options with { Width = value },
                "--height" => options with { Height = value },
                _ => throw new ArgumentException($"unknown option {args[k]}"),
            };
        }
        var dataset = new DetectionSetGenerator().Write(args[0], options);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {dataset.Items.Count} images with {dataset.Items.Sum(i => i.Boxes.Count)} boxes to {dataset.Source} (annotations/instances_*.json, annotations/_annotations.*.jsonl)"));
        return 0;
    }
}
