using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Cli;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// <c>fashion [--data DIR] [--out DIR] [key=value ...]</c>: the default classify recipe (with the given overrides) on
/// Fashion-MNIST exactly as <c>pipeline train</c> runs it (train split less its validation share, best epoch on the
/// 10,000 test images), then prints the run's figures and ends with <c>fashion accuracy=X minutes=Y</c>; minutes count
/// the whole run, loading and evaluation included.
/// </summary>
internal static class FashionBenchmark
{
    public static int Run(string[] args)
    {
        var data = "/usr/share/datasets/fashion-mnist";
        string? output = null;
        var overrides = new List<string>();
        for (var k = 0; k < args.Length; k++)
        {
            switch (args[k])
            {
                case "--data" when k + 1 < args.Length: data = args[++k]; break;
                case "--out" when k + 1 < args.Length: output = args[++k]; break;
                case var a when a.StartsWith("--", StringComparison.Ordinal): Console.Error.WriteLine($"unknown option {a}"); return 2;
                // Recipe overrides, as pipeline train takes them (with or without the leading dashes).
                default: overrides.Add(args[k].StartsWith("--", StringComparison.Ordinal) ? args[k] : "--" + args[k]); break;
            }
        }
        output ??= Path.Combine(Path.GetTempPath(), $"pipeline-fashion-bench-{Environment.ProcessId}");
        Console.WriteLine($"fashion: {data}, run folder {output}, torch threads {get_num_threads()}, load average {MachineLoad.Average()}");

        var clock = Stopwatch.StartNew();
        using var stdout = new StringWriter();
        var code = new LocalTrainingRun(new LocalTrainingOptions(data, null, overrides, output, null, Resume: false, Json: true), stdout, Console.Out)
            .Execute(CancellationToken.None);
        var minutes = clock.Elapsed.TotalMinutes;
        if (code != 0) return code;
        var result = JsonDocument.Parse(stdout.ToString().Trim().Split('\n')[^1]).RootElement;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"test: {result.GetProperty("test_images").GetInt64()} images, top-5 {result.GetProperty("top5").GetDouble():F4}, macro F1 {result.GetProperty("macro_f1").GetDouble():F4}; best epoch {result.GetProperty("best_epoch").GetInt32()} of {result.GetProperty("epochs").GetInt32()}, training {result.GetProperty("seconds").GetDouble() / 60:F1} min; load average {MachineLoad.Average()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fashion accuracy={result.GetProperty("accuracy").GetDouble():F4} minutes={minutes:F1}"));
        return 0;
    }
}
