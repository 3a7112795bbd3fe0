using System.Diagnostics;
using System.Globalization;
using Pipeline.Cli;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Bench;

/// <summary>
/// <c>detection-ranks [--out DIR] [--seed N] [--train N] [--val N] [--test N] [key=value ...]</c>: trains the same
/// detect recipe on the same generated set as <c>pipeline train --task detect</c> does, once in one process and once
/// as 2 data-parallel ranks (<c>--nproc 2</c>, same global batch), and evaluates both on the test split. Ends with
/// <c>detection_ranks map50_1rank=X map50_2ranks=Y diff=Z</c>: data parallelism should change the result little.
/// </summary>
internal static class DetectionRanksBenchmark
{
    public static int Run(string[] args)
    {
        var options = new DetectionSetOptions { Seed = 7, TrainImages = 2000, ValImages = 200, TestImages = 300 };
        string? output = null;
        var overrides = new List<string>();
        for (var k = 0; k < args.Length; k++)
        {
            if (!args[k].StartsWith("--", StringComparison.Ordinal)) { overrides.Add("--" + args[k]); continue; }
            if (k + 1 >= args.Length) { Console.Error.WriteLine($"{args[k]} needs a value"); return 2; }
            var value = args[++k];
            if (args[k - 1] == "--out") output = value;
            else if (DetectionBenchmark.SetOption(args[k - 1], value) is { } change) options = change(options);
            else { Console.Error.WriteLine($"unknown option {args[k - 1]}"); return 2; }
        }
        output ??= Path.Combine(Path.GetTempPath(), $"pipeline-detection-ranks-{Environment.ProcessId}");
        var data = Path.Combine(output, "data");
        if (!File.Exists(Path.Combine(data, "annotations", "instances_train.json"))) new DetectionSetGenerator().Write(data, options);
        Console.WriteLine($"detection-ranks: {options.TrainImages} training images, recipe overrides [{string.Join(' ', overrides)}], load average {MachineLoad.Average()}");

        var map50 = new Dictionary<int, double>();
        foreach (var ranks in (int[])[1, 2])
        {
            var run = Path.Combine(output, $"run-{ranks}");
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
            var clock = Stopwatch.StartNew();
            var code = CliApp.Run(["train", data, "--task", "detect", "--output", run, "--nproc", ranks.ToString(CultureInfo.InvariantCulture), .. overrides],
                TextWriter.Null, Console.Error);
            if (code != 0) return code;
            var report = DetectionReport.FromJson(File.ReadAllText(Path.Combine(run, "evaluation.json")));
            map50[ranks] = report.Map50 ?? double.NaN;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {ranks} rank(s): test mAP@.5 {map50[ranks]:F4}, mAP {report.Map:F4} in {clock.Elapsed.TotalMinutes:F1} min; load average {MachineLoad.Average()}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"detection_ranks map50_1rank={map50[1]:F4} map50_2ranks={map50[2]:F4} diff={Math.Abs(map50[1] - map50[2]):F4}"));
        return 0;
    }
}
