using System.CommandLine;
using System.Globalization;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;

namespace Pipeline.Cli;

/// <summary><c>pipeline datasets make-detection &lt;out&gt; [--seed] [--train] [--val] [--test] [--width] [--height] [--idx]</c>.</summary>
public static class DatasetsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var defaults = new DetectionSetOptions();
        var output = new Argument<string>("out") { Description = "Folder to write (images/, annotations/ as COCO and PaliGemma JSONL)" };
        var seed = new Option<long>("--seed") { Description = "Seed: the same seed and sizes give the same bytes", DefaultValueFactory = _ => defaults.Seed };
        var train = new Option<int>("--train") { Description = "Training images", DefaultValueFactory = _ => defaults.TrainImages };
        var val = new Option<int>("--val") { Description = "Validation images", DefaultValueFactory = _ => defaults.ValImages };
        var test = new Option<int>("--test") { Description = "Test images (0: no test split)", DefaultValueFactory = _ => defaults.TestImages };
        var width = new Option<int>("--width") { Description = "Canvas width", DefaultValueFactory = _ => defaults.Width };
        var height = new Option<int>("--height") { Description = "Canvas height", DefaultValueFactory = _ => defaults.Height };
        var idx = new Option<string>("--idx") { Description = "IDX folder the objects come from", DefaultValueFactory = _ => FashionMnist.DebianPath };
        var make = new Command("make-detection", "Generate a detection set: Fashion-MNIST items pasted onto textured canvases.")
        {
            output, seed, train, val, test, width, height, idx,
        };
        make.SetAction(parse =>
        {
            var options = new DetectionSetOptions
            {
                Seed = parse.GetValue(seed), TrainImages = parse.GetValue(train), ValImages = parse.GetValue(val), TestImages = parse.GetValue(test),
                Width = parse.GetValue(width), Height = parse.GetValue(height),
            };
            if (options.TrainImages < 0 || options.ValImages < 0 || options.TestImages < 0 || options.Width < options.MaxSide || options.Height < options.MaxSide)
            {
                stderr.WriteLine($"error: image counts must not be negative and canvases must be at least {options.MaxSide} pixels a side");
                return 2;
            }
            try
            {
                var dataset = new DetectionSetGenerator(parse.GetValue(idx)!).Write(parse.GetValue(output)!, options);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {dataset.Items.Count} images with {dataset.Items.Sum(i => i.Boxes.Count)} boxes to {dataset.Source} (annotations/instances_*.json, annotations/_annotations.*.jsonl)"));
                return 0;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return new Command("datasets", "Dataset tools.") { make };
    }
}
