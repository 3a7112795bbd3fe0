using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;

namespace Pipeline.Training.Sweeps;

/// <summary>One planned trial: its number (from 1), the values it takes for the searched keys, and its whole recipe.</summary>
public sealed record SweepTrialPlan(int Number, IReadOnlyDictionary<string, JsonNode?> Values, string RecipeJson, int Epochs)
{
    /// <summary>The values as one short line: <c>optimizer.lr=0.0123 model.width=16</c>.</summary>
    public string Describe() => SweepPlanner.Describe(Values);
}

/// <summary>What trials are ranked by: a validation metric, and whether more or less is better.</summary>
public sealed record SweepRanking(string Metric, MetricMode Mode)
{
    /// <summary>Whether <paramref name="a"/> is a better metric value than <paramref name="b"/> (NaN is never better).</summary>
    public bool Better(double a, double b) => !double.IsNaN(a) && (double.IsNaN(b) || (Mode == MetricMode.Max ? a > b : a < b));
}

/// <summary>A sweep ready to run: what it ranks trials by, and every trial's recipe (each one checked).</summary>
public sealed record SweepPlan(SweepSpec Spec, string Task, string Metric, MetricMode Mode, IReadOnlyList<SweepTrialPlan> Trials)
{
    public SweepRanking Ranking => new(Metric, Mode);

    /// <summary>Whether <paramref name="a"/> is a better metric value than <paramref name="b"/> (NaN is never better).</summary>
    public bool Better(double a, double b) => Ranking.Better(a, b);
}

/// <summary>
/// Turns a sweep and the recipe its trials start from into trials: random search draws each trial's values from the
/// seed (the same sweep file gives the same trials), grid search takes every combination of the choices and whole-number
/// ranges. Each trial's recipe is the base recipe with its values set, checked as a submitted recipe is, so a value the
/// recipe cannot take is refused before anything runs.
/// </summary>
public static class SweepPlanner
{
    /// <summary>The most points a grid may have.</summary>
    public const int MaxGridPoints = SweepSpec.MaxTrials;

    /// <param name="baseRecipe">Self-contained recipe text (YAML or JSON; bases already resolved), or null for the task's defaults.</param>
    /// <param name="source">How errors name the sweep (its file).</param>
    public static SweepPlan Plan(SweepSpec spec, string task, string? baseRecipe, string source)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var points = spec.Search == SearchKind.Grid ? Grid(spec, source) : Random(spec);
        var trials = new List<SweepTrialPlan>();
        Recipe? first = null;
        foreach (var values in points)
        {
            var number = trials.Count + 1;
            var json = TrialRecipe(baseRecipe, values, source);
            Recipe recipe;
            try
            {
                recipe = TaskRecipes.LoadText(task, json, $"{source}, trial {number} ({Describe(values)})");
            }
            catch (RecipeException e)
            {
                throw new RecipeException($"{source}: trial {number} ({Describe(values)}) makes a recipe that cannot run: {e.Message}", e);
            }
            first ??= recipe;
            trials.Add(new SweepTrialPlan(number, values, json, recipe.Epochs));
        }
        var metric = spec.Metric ?? first!.EarlyStopping.Metric;
        var known = task == "detect" ? RecipeValidator.DetectionMetrics : RecipeValidator.Metrics;
        if (!known.Contains(metric, StringComparer.Ordinal))
            throw new RecipeException(source, "metric", $"'{metric}' is not a validation metric of {task} (known: {string.Join(", ", known)})");
        var mode = spec.Mode ?? (metric == "loss" ? MetricMode.Min : MetricMode.Max);
        if (spec.Asha is { } asha && trials.All(t => asha.Rungs(t.Epochs).Count == 0))
            throw new RecipeException(source, "asha.min_epochs", $"{asha.MinEpochs} is not below any trial's epochs ({trials.Max(t => t.Epochs)} at most), so ASHA would never judge a trial");
        return new SweepPlan(spec, task, metric, mode, trials);
    }

    /// <summary>The base recipe with <paramref name="values"/> set, as JSON (a submitted job's recipe text).</summary>
    public static string TrialRecipe(string? baseRecipe, IReadOnlyDictionary<string, JsonNode?> values, string source)
    {
        ArgumentNullException.ThrowIfNull(values);
        var document = RecipeLoader.ComposeText(baseRecipe, source);
        foreach (var (key, value) in values) document.Set(key, value?.DeepClone(), $"{source}: space");
        return document.Root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static string Describe(IReadOnlyDictionary<string, JsonNode?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return string.Join(' ', values.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString() ?? "null"}"));
    }

    private static List<Dictionary<string, JsonNode?>> Random(SweepSpec spec)
    {
        // System.Random with a seed is the same sequence on every .NET version and machine.
        var random = new Random((int)(spec.Seed % int.MaxValue));
        var result = new List<Dictionary<string, JsonNode?>>();
        for (var t = 0; t < spec.Trials; t++)
        {
            var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            foreach (var p in spec.Space) values[p.Key] = Draw(p, random);
            result.Add(values);
        }
        return result;
    }

    private static JsonNode? Draw(SweepParameter p, Random random) => p.Kind switch
    {
        ParameterKind.Choice => p.Choices[random.Next(p.Choices.Count)]?.DeepClone(),
        ParameterKind.Int => JsonValue.Create((long)p.Low + random.NextInt64((long)p.High - (long)p.Low + 1)),
        ParameterKind.Uniform => JsonValue.Create(Round(p.Low + random.NextDouble() * (p.High - p.Low))),
        ParameterKind.LogUniform => JsonValue.Create(Round(Math.Exp(Math.Log(p.Low) + random.NextDouble() * (Math.Log(p.High) - Math.Log(p.Low))))),
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    // Four significant digits: a recipe and a trials table a person can read, and no search resolution lost that matters.
    private static double Round(double value) =>
        value == 0 ? 0 : double.Parse(value.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static List<Dictionary<string, JsonNode?>> Grid(SweepSpec spec, string source)
    {
        var axes = new List<(string Key, List<JsonNode?> Values)>();
        long size = 1;
        foreach (var p in spec.Space)
        {
            var values = p.Kind switch
            {
                ParameterKind.Choice => p.Choices.ToList(),
                ParameterKind.Int when p.High - p.Low < MaxGridPoints =>
                    Enumerable.Range(0, (int)(p.High - p.Low) + 1).Select(k => (JsonNode?)JsonValue.Create((long)p.Low + k)).ToList(),
                ParameterKind.Int => throw new RecipeException(source, $"space.{p.Key}", $"int [{SweepSpec.Show(p.Low)}, {SweepSpec.Show(p.High)}] has more than {MaxGridPoints} values for a grid"),
                _ => throw new RecipeException(source, $"space.{p.Key}", $"grid search needs choices or an int range; a {(p.Kind == ParameterKind.Uniform ? "uniform" : "log_uniform")} range has no points (list them as choice, or use search: random)"),
            };
            size *= values.Count;
            if (size > MaxGridPoints) throw new RecipeException(source, "space", $"the grid has more than {MaxGridPoints} points");
            axes.Add((p.Key, values));
        }
        if (spec.Trials is { } trials && trials != size)
            throw new RecipeException(source, "trials", $"the grid has {size} points but trials is {trials} (leave trials out for a grid)");
        var result = new List<Dictionary<string, JsonNode?>> { new(StringComparer.Ordinal) };
        foreach (var (key, values) in axes)
            result = [.. result.SelectMany(point => values.Select(v => new Dictionary<string, JsonNode?>(point, StringComparer.Ordinal) { [key] = v?.DeepClone() }))];
        return result;
    }
}
