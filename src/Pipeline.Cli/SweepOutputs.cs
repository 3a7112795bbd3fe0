using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Sweeps;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Plotting;
using Spectre.Console;
using Canvas = Pipeline.Vision.Plotting.Canvas;

namespace Pipeline.Cli;

/// <summary>
/// What a local sweep leaves in its folder and on the terminal: <c>sweep.json</c> (the sweep, every trial with its values,
/// outcome, curve, ASHA decisions and test metrics, and the best trial with its recipe), <c>trials.csv</c> (a row per
/// trial), <c>trials.png</c> (the validation metric per epoch, a line per trial), a table of the trials and the last line
/// <c>sweep best trial=N metric=X values</c>. The best trial's run folder, with its <c>best.safetensors</c>, is the
/// sweep's model.
/// </summary>
internal static class SweepOutputs
{
    public const string SummaryFile = "sweep.json";
    public const string TrialsCsvFile = "trials.csv";
    public const string ChartFile = "trials.png";
    public const string ModelFile = "best.safetensors";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes the outputs and says how the sweep went; returns the command's exit code.</summary>
    public static int Write(LocalSweep sweep, LocalSweepOptions options, bool json, bool interrupted, TextWriter stdout, TextWriter stderr)
    {
        var plan = sweep.Plan;
        var best = BestTrial(sweep);
        var summary = Summary(sweep, options, best, interrupted);
        AtomicFile.WriteAllText(Path.Combine(options.Output, SummaryFile), summary.ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(options.Output, TrialsCsvFile), TrialsCsv(sweep));
        var chart = Chart(sweep, best);
        AtomicFile.Write(Path.Combine(options.Output, ChartFile), temp => File.WriteAllBytes(temp, chart.ToPng()));

        if (json) stdout.WriteLine(summary.ToJsonString());
        else WriteTable(sweep, best, stdout);
        var failed = sweep.Trials.Where(t => t.State == TrialState.Failed).ToList();
        var bestLine = best is null ? null : BestLine(plan, best);
        var report = json ? stderr : stdout;
        if (best is not null)
        {
            report.WriteLine($"model: {Path.Combine(best.Folder, ModelFile)} (trial {best.Plan.Number}'s run folder {best.Folder}; sweep folder {options.Output})");
            report.WriteLine(bestLine);
        }
        if (interrupted)
        {
            stderr.WriteLine($"interrupted: {sweep.Trials.Count(t => t.Curve.Count > 0)} of {sweep.Trials.Count} trials had trained; {SummaryFile} in {options.Output} has them");
            return 130;
        }
        if (best is null)
        {
            var first = failed.FirstOrDefault();
            stderr.WriteLine(first is not null
                ? $"error: every trial failed; the first, trial {first.Plan.Number}: {first.Error}"
                : "error: no trial reached a validation value");
            return 1;
        }
        if (failed.Count > 0)
            stderr.WriteLine($"warning: {failed.Count} of {sweep.Trials.Count} trials failed (see {SummaryFile}); the first, trial {failed[0].Plan.Number}: {failed[0].Error}");
        return 0;
    }

    /// <summary>The trial with the best validation value among those that trained to the end or were stopped (the
    /// earlier one of equals); a failed trial's folder may be incomplete, so it does not count.</summary>
    public static LocalTrial? BestTrial(LocalSweep sweep)
    {
        LocalTrial? best = null;
        double bestValue = double.NaN;
        foreach (var trial in sweep.Trials.Where(t => t.State is TrialState.Finished or TrialState.Stopped or TrialState.Cancelled))
        {
            if (trial.Best(sweep.Plan) is not { } b) continue;
            if (best is null || sweep.Plan.Better(b.Value, bestValue)) (best, bestValue) = (trial, b.Value);
        }
        return best;
    }

    public static string BestLine(SweepPlan plan, LocalTrial best)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(best);
        return string.Create(CultureInfo.InvariantCulture, $"sweep best trial={best.Plan.Number} {plan.Metric}={best.Best(plan)!.Value.Value:0.####} {best.Plan.Describe()}");
    }

    /// <summary>A trial's test metrics from the evaluation.json its run wrote; null when there is none.</summary>
    public static IReadOnlyDictionary<string, double>? ReadTestMetrics(string folder, string task)
    {
        var path = Path.Combine(folder, LocalRunFolder.EvaluationFile);
        if (!File.Exists(path)) return null;
        try
        {
            var text = File.ReadAllText(path);
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            if (task == "detect")
            {
                var d = DetectionReport.FromJson(text);
                foreach (var (name, value) in new[] { ("map", d.Map), ("map50", d.Map50), ("map75", d.Map75), ("ar", d.Ar) })
                    if (value is { } v) metrics[name] = v;
                return metrics;
            }
            var c = ClassificationReport.FromJson(text);
            metrics["accuracy"] = c.Accuracy;
            if (c.TopK.TryGetValue(5, out var top5)) metrics["top5"] = top5;
            metrics["macro_f1"] = c.MacroF1;
            metrics["weighted_f1"] = c.WeightedF1;
            if (c.Loss is { } loss) metrics["loss"] = loss;
            return metrics;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null;
        }
    }

    private static string StateName(TrialState state) => state switch
    {
        TrialState.Finished => "finished",
        TrialState.Stopped => "stopped",
        TrialState.Failed => "failed",
        TrialState.Cancelled => "interrupted",
        TrialState.Running => "running",
        _ => "not started",
    };

    // NaN (a diverged run) has no JSON number: null.
    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static JsonObject Summary(LocalSweep sweep, LocalSweepOptions options, LocalTrial? best, bool interrupted)
    {
        var plan = sweep.Plan;
        var spec = plan.Spec;
        var space = new JsonObject();
        foreach (var p in spec.Space)
        {
            space[p.Key] = p.Kind == ParameterKind.Choice
                ? new JsonObject { ["choice"] = new JsonArray([.. p.Choices.Select(c => c?.DeepClone())]) }
                : new JsonObject { [KindName(p.Kind)] = new JsonArray(JsonValue.Create(p.Low), JsonValue.Create(p.High)) };
        }
        var trials = new JsonArray();
        foreach (var t in sweep.Trials)
        {
            var b = t.Best(plan);
            var item = new JsonObject
            {
                ["number"] = t.Plan.Number,
                ["folder"] = t.Folder,
                ["values"] = Values(t.Plan.Values),
                ["state"] = StateName(t.State),
            };
            if (t.State == TrialState.Stopped) item["reason"] = t.Stop!.Reason;
            if (t.State == TrialState.Failed) item["error"] = t.Error;
            item["epochs"] = t.Plan.Epochs;
            item["epochs_done"] = t.Curve.Count;
            item["best_value"] = b is { } v ? Number(v.Value) : null;
            item["best_epoch"] = b?.Epoch;
            item["curve"] = new JsonArray([.. t.Curve.Select(c => (JsonNode)new JsonObject { ["epoch"] = c.Epoch, ["value"] = Number(c.Value) })]);
            item["decisions"] = new JsonArray([.. t.Decisions.Select(d => (JsonNode)Decision(d))]);
            item["test"] = t.Test is { } test ? new JsonObject(test.Select(kv => KeyValuePair.Create(kv.Key, Number(kv.Value)))) : null;
            trials.Add(item);
        }
        var decisions = new JsonArray();
        foreach (var (trial, decision) in sweep.Decisions)
        {
            var d = Decision(decision);
            d.Insert(0, "trial", trial);
            decisions.Add(d);
        }
        JsonObject? bestNode = null;
        if (best is not null)
        {
            var b = best.Best(plan)!.Value;
            bestNode = new JsonObject
            {
                ["trial"] = best.Plan.Number,
                ["value"] = Number(b.Value),
                ["epoch"] = b.Epoch,
                ["values"] = Values(best.Plan.Values),
                ["folder"] = best.Folder,
                ["model"] = Path.Combine(best.Folder, ModelFile),
                ["test"] = best.Test is { } test ? new JsonObject(test.Select(kv => KeyValuePair.Create(kv.Key, Number(kv.Value)))) : null,
                ["recipe"] = JsonNode.Parse(best.Plan.RecipeJson),
            };
        }
        return new JsonObject
        {
            ["sweep_file"] = options.SweepFile,
            ["dataset"] = options.Dataset,
            ["task"] = plan.Task,
            ["folder"] = options.Output,
            ["state"] = interrupted ? "interrupted" : "completed",
            ["search"] = spec.Search.ToString().ToLowerInvariant(),
            ["seed"] = spec.Seed,
            ["metric"] = plan.Metric,
            ["mode"] = plan.Mode.ToString().ToLowerInvariant(),
            ["asha"] = spec.Asha is { } a ? new JsonObject { ["min_epochs"] = a.MinEpochs, ["reduction"] = a.Reduction } : null,
            ["parallel"] = options.Parallel,
            ["limit"] = options.Limit,
            ["keys"] = new JsonArray([.. spec.Space.Select(p => (JsonNode?)JsonValue.Create(p.Key))]),
            ["space"] = space,
            ["trials"] = trials,
            ["decisions"] = decisions,
            ["best"] = bestNode,
        };
    }

    private static string KindName(ParameterKind kind) => kind switch
    {
        ParameterKind.Uniform => "uniform",
        ParameterKind.LogUniform => "log_uniform",
        ParameterKind.Int => "int",
        _ => "choice",
    };

    private static JsonObject Values(IReadOnlyDictionary<string, JsonNode?> values) =>
        new(values.Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));

    private static JsonObject Decision(AshaDecision d) => new()
    {
        ["rung"] = d.Rung,
        ["epoch"] = d.Epoch,
        ["continue"] = d.Continue,
        ["reason"] = d.Reason,
    };

    private static string[] TestColumns(string task) => task == "detect" ? ["map", "map50", "map75", "ar"] : ["accuracy", "top5", "macro_f1", "weighted_f1", "loss"];

    // A value as a person writes it: a string without its quotes, a number as JSON has it.
    private static string Plain(JsonNode? value) =>
        value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value?.ToJsonString() ?? "";

    private static string F(double? value) => value is { } v && double.IsFinite(v) ? v.ToString("0.####", CultureInfo.InvariantCulture) : "";

    private static string TrialsCsv(LocalSweep sweep)
    {
        var plan = sweep.Plan;
        var keys = plan.Spec.Space.Select(p => p.Key).ToList();
        var tests = TestColumns(plan.Task);
        var text = new StringBuilder();
        text.AppendLine(string.Join(',', ((string[])["trial", "state", .. keys, "epochs", "epochs_done", $"best_val_{plan.Metric}", "best_epoch",
            .. tests.Select(t => "test_" + t), "reason"]).Select(Csv)));
        foreach (var t in sweep.Trials)
        {
            var b = t.Best(plan);
            string[] row =
            [
                t.Plan.Number.ToString(CultureInfo.InvariantCulture), StateName(t.State), .. keys.Select(k => Plain(t.Plan.Values[k])),
                t.Plan.Epochs.ToString(CultureInfo.InvariantCulture), t.Curve.Count.ToString(CultureInfo.InvariantCulture),
                F(b?.Value), b?.Epoch.ToString(CultureInfo.InvariantCulture) ?? "",
                .. tests.Select(c => t.Test is { } test && test.TryGetValue(c, out var v) ? F(v) : ""),
                t.State == TrialState.Stopped ? t.Stop!.Reason : t.Error ?? "",
            ];
            text.AppendLine(string.Join(',', row.Select(Csv)));
        }
        return text.ToString();
    }

    private static string Csv(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;

    private static void WriteTable(LocalSweep sweep, LocalTrial? best, TextWriter stdout)
    {
        var plan = sweep.Plan;
        var keys = plan.Spec.Space.Select(p => p.Key).ToList();
        var primary = TestColumns(plan.Task)[0];
        var table = new Table().AddColumns(["trial", "state", .. keys.Select(Markup.Escape), "epochs", Markup.Escape($"best val {plan.Metric}"), "best epoch",
            Markup.Escape($"test {primary}"), "note"]);
        foreach (var t in sweep.Trials)
        {
            var b = t.Best(plan);
            var note = t.State switch
            {
                TrialState.Stopped => $"ASHA rung {t.Stop!.Rung} (epoch {t.Stop.Epoch})",
                TrialState.Failed => t.Error is { Length: > 70 } e ? e[..69] + "~" : t.Error ?? "",
                _ => "",
            };
            table.AddRow([
                ReferenceEquals(t, best) ? $"{t.Plan.Number} (best)" : t.Plan.Number.ToString(CultureInfo.InvariantCulture),
                StateName(t.State), .. keys.Select(k => Markup.Escape(Plain(t.Plan.Values[k]))),
                string.Create(CultureInfo.InvariantCulture, $"{t.Curve.Count}/{t.Plan.Epochs}"), F(b?.Value), b?.Epoch.ToString(CultureInfo.InvariantCulture) ?? "",
                t.Test is { } test && test.TryGetValue(primary, out var v) ? F(v) : "", Markup.Escape(note),
            ]);
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        // Written to a file or a pipe, Spectre assumes 80 columns: too few for a column per searched key.
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected) console.Profile.Width = Math.Max(console.Profile.Width, 200);
        console.Write(table);
    }

    private const int TitleScale = 3;
    private static readonly int LegendRow = BitmapFont.CellHeight * Axes.Scale + 6;

    /// <summary>The validation metric against the epoch, a line per trial (the best one thicker), with a legend of each
    /// trial's best value and outcome.</summary>
    public static Canvas Chart(LocalSweep sweep, LocalTrial? best)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var plan = sweep.Plan;
        var values = sweep.Trials.SelectMany(t => t.Curve).Select(c => c.Value).Where(double.IsFinite).ToList();
        // Scores are drawn on 0..1 as the run's own charts draw them; a loss from 0 to a round number above its largest.
        var y = plan.Metric == "loss" ? Axes.NiceRange(values) : (0.0, 1.0);
        var lastEpoch = Math.Max(2, sweep.Trials.Max(t => t.Plan.Epochs));
        var canvas = new Canvas(1160, 660, Rgb.White);
        var title = $"Sweep: validation {plan.Metric} per epoch ({sweep.Trials.Count} trials)";
        canvas.DrawText(canvas.Width / 2, 16, title, Rgb.Black, TitleScale, TextAlign.Center);
        var axes = new Axes(canvas, 110, 70, 640, 500, (1, lastEpoch), y);
        axes.Draw(Axes.NiceTicks(1, lastEpoch, 6, minStep: 1), Axes.NiceTicks(y.Item1, y.Item2), "epoch", $"validation {plan.Metric}");
        var legendTop = axes.Top;
        var rows = (axes.Height - LegendRow) / LegendRow;
        for (var i = 0; i < sweep.Trials.Count; i++)
        {
            var t = sweep.Trials[i];
            var color = Palette.Categorical[i % Palette.Categorical.Count];
            var series = new Series($"trial {t.Plan.Number}", [.. t.Curve.Where(c => double.IsFinite(c.Value)).Select(c => ((double)c.Epoch, c.Value))], color,
                ReferenceEquals(t, best) ? 5 : 2);
            axes.Plot(series, color);
            axes.Mark(series, color, ReferenceEquals(t, best) ? 10 : 7);
            if (i >= rows) continue;
            var b = t.Best(plan);
            var label = $"trial {t.Plan.Number}  {F(b?.Value),-6} {(ReferenceEquals(t, best) ? "best" : t.State == TrialState.Finished ? "" : StateName(t.State))}";
            var yy = legendTop + i * LegendRow;
            canvas.FillRectangle(axes.Left + axes.Width + 30, yy + 6, 28, ReferenceEquals(t, best) ? 6 : 3, color);
            canvas.DrawText(axes.Left + axes.Width + 66, yy, label.TrimEnd(), Rgb.Black, Axes.Scale);
        }
        if (sweep.Trials.Count > rows)
            canvas.DrawText(axes.Left + axes.Width + 30, legendTop + rows * LegendRow, $"+{sweep.Trials.Count - rows} more", Rgb.Gray, Axes.Scale);
        return canvas;
    }
}
