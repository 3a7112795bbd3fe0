using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;

namespace Pipeline.Training.Sweeps;

public enum SearchKind { Random, Grid }

public enum ParameterKind { Choice, Uniform, LogUniform, Int }

/// <summary>One recipe key of the search space: a list of choices, or a range (<see cref="Low"/> and <see cref="High"/>,
/// both included) drawn uniformly, log-uniformly, or as a whole number.</summary>
public sealed record SweepParameter(string Key, ParameterKind Kind, IReadOnlyList<JsonNode?> Choices, double Low, double High);

/// <summary>ASHA (asynchronous successive halving): a trial reaching a rung (<see cref="MinEpochs"/> epochs, then that
/// times <see cref="Reduction"/>, and so on, below the trial's epochs) goes on only if its validation metric is among
/// the best 1/<see cref="Reduction"/> of the trials that reached that rung so far.</summary>
public sealed record AshaSettings(int MinEpochs = 1, int Reduction = 3)
{
    /// <summary>The epochs at which a trial of <paramref name="epochs"/> epochs is judged.</summary>
    public IReadOnlyList<int> Rungs(int epochs)
    {
        var rungs = new List<int>();
        for (long r = MinEpochs; r < epochs; r *= Reduction) rungs.Add((int)r);
        return rungs;
    }
}

/// <summary>
/// A hyper-parameter sweep as its file gives it (<c>sweep.yaml</c>):
/// <code>
/// recipe: base.yaml          # the recipe the trials start from: a file beside this one, or a map (optional)
/// trials: 8                  # random search: how many trials (grid: every point, 'trials' may be left out)
/// search: random             # random | grid
/// scheduler: asha            # asha | none: stop weak trials early
/// asha: {min_epochs: 1, reduction: 3}
/// metric: accuracy           # validation metric to rank by (default: the recipe's early_stopping.metric)
/// mode: max                  # max | min (default: min for loss, else max)
/// parallel: 2                # trials at once (default: the trainer replicas, or --nproc)
/// seed: 0
/// space:
///   optimizer.lr: {log_uniform: [0.003, 0.3]}
///   optimizer.weight_decay: {uniform: [0, 0.001]}
///   model.width: {int: [8, 32]}
///   optimizer.name: {choice: [sgd, adamw]}   # or a plain list
/// </code>
/// </summary>
public sealed record SweepSpec(
    int? Trials,
    SearchKind Search,
    long Seed,
    string? Metric,
    MetricMode? Mode,
    int? Parallel,
    IReadOnlyList<SweepParameter> Space,
    AshaSettings? Asha,
    JsonObject? InlineRecipe,
    string? RecipeFile)
{
    /// <summary>The most trials one sweep may plan.</summary>
    public const int MaxTrials = 256;

    private static readonly string[] Keys = ["recipe", "trials", "search", "scheduler", "asha", "metric", "mode", "parallel", "seed", "space"];

    /// <summary>Parses sweep text; errors name <paramref name="source"/> and the key at fault.</summary>
    public static SweepSpec Parse(string text, string source)
    {
        var map = RecipeDocument.ParseText(text, source);
        foreach (var (key, _) in map)
            if (!Keys.Contains(key, StringComparer.Ordinal))
                throw new RecipeException(source, key, $"unknown key; a sweep has: {string.Join(", ", Keys)}");

        JsonObject? inline = null;
        string? file = null;
        switch (map["recipe"])
        {
            case null: break;
            case JsonObject recipe: inline = (JsonObject)recipe.DeepClone(); break;
            case JsonValue value when value.TryGetValue<string>(out var name) && name.Length > 0: file = name; break;
            case var other: throw new RecipeException(source, "recipe", $"expected a recipe file name or a map of recipe keys, got {other.ToJsonString()}");
        }

        var search = Word(map, "search", source, "random") switch
        {
            "random" => SearchKind.Random,
            "grid" => SearchKind.Grid,
            var s => throw new RecipeException(source, "search", $"expected random or grid, got '{s}'"),
        };
        var scheduler = Word(map, "scheduler", source, map.ContainsKey("asha") ? "asha" : "none");
        if (scheduler is not ("asha" or "none")) throw new RecipeException(source, "scheduler", $"expected asha or none, got '{scheduler}'");
        AshaSettings? asha = null;
        if (scheduler == "asha")
        {
            var settings = map["asha"] switch
            {
                null => new JsonObject(),
                JsonObject o => o,
                var other => throw new RecipeException(source, "asha", $"expected a map (min_epochs, reduction), got {other.ToJsonString()}"),
            };
            foreach (var (key, _) in settings)
                if (key is not ("min_epochs" or "reduction")) throw new RecipeException(source, $"asha.{key}", "unknown key; asha has: min_epochs, reduction");
            asha = new AshaSettings(Integer(settings, "min_epochs", $"asha.min_epochs", source, 1, 1, 1000) ?? 1,
                Integer(settings, "reduction", "asha.reduction", source, 3, 2, 100) ?? 3);
        }
        else if (map["asha"] is not null) throw new RecipeException(source, "asha", "given, but scheduler is none");

        var mode = map["mode"] is null ? (MetricMode?)null : Word(map, "mode", source, "max") switch
        {
            "max" => MetricMode.Max,
            "min" => MetricMode.Min,
            var m => throw new RecipeException(source, "mode", $"expected max or min, got '{m}'"),
        };
        var metric = map["metric"] is null ? null : Word(map, "metric", source, "");
        var space = ParseSpace(map["space"], source);
        var trials = Integer(map, "trials", "trials", source, null, 1, MaxTrials);
        if (search == SearchKind.Random && trials is null) throw new RecipeException(source, "trials", "random search needs the number of trials");
        return new SweepSpec(trials, search, Integer(map, "seed", "seed", source, 0, 0, int.MaxValue) ?? 0, metric, mode,
            Integer(map, "parallel", "parallel", source, null, 1, 64), space, asha, inline, file);
    }

    private static List<SweepParameter> ParseSpace(JsonNode? node, string source)
    {
        if (node is not JsonObject space || space.Count == 0)
            throw new RecipeException(source, "space", "expected a map of recipe keys to search (optimizer.lr: {log_uniform: [0.001, 0.1]})");
        var parameters = new List<SweepParameter>();
        foreach (var (key, value) in space)
        {
            var path = $"space.{key}";
            if (key.Split('.').Any(string.IsNullOrWhiteSpace) || key == RecipeLoader.BaseKey) throw new RecipeException(source, path, "malformed recipe key");
            if (value is JsonArray plain)
            {
                parameters.Add(Choice(key, plain, path, source));
                continue;
            }
            if (value is not JsonObject { Count: 1 } definition)
                throw new RecipeException(source, path, "expected one of {choice: [...]}, {uniform: [low, high]}, {log_uniform: [low, high]}, {int: [low, high]}, or a list of choices");
            var (kind, arguments) = definition.First();
            if (kind == "choice")
            {
                parameters.Add(Choice(key, arguments as JsonArray ?? throw new RecipeException(source, path, "choice needs a list of values"), path, source));
                continue;
            }
            var parsed = kind switch
            {
                "uniform" => ParameterKind.Uniform,
                "log_uniform" => ParameterKind.LogUniform,
                "int" => ParameterKind.Int,
                _ => throw new RecipeException(source, path, $"unknown distribution '{kind}'; known: choice, uniform, log_uniform, int"),
            };
            if (arguments is not JsonArray { Count: 2 } bounds || Number(bounds[0]) is not { } low || Number(bounds[1]) is not { } high)
                throw new RecipeException(source, path, $"{kind} needs [low, high], two numbers, got {arguments?.ToJsonString() ?? "null"}");
            if (!(low <= high)) throw new RecipeException(source, path, $"{kind}: low {Show(low)} is above high {Show(high)}");
            if (parsed == ParameterKind.LogUniform && low <= 0) throw new RecipeException(source, path, $"log_uniform needs a low bound above 0, got {Show(low)}");
            if (parsed == ParameterKind.Int && (low != Math.Floor(low) || high != Math.Floor(high)))
                throw new RecipeException(source, path, $"int needs whole-number bounds, got [{Show(low)}, {Show(high)}]");
            parameters.Add(new SweepParameter(key, parsed, [], low, high));
        }
        return parameters;
    }

    private static SweepParameter Choice(string key, JsonArray values, string path, string source)
    {
        if (values.Count == 0) throw new RecipeException(source, path, "choice needs at least one value");
        return new SweepParameter(key, ParameterKind.Choice, values.Select(v => v?.DeepClone()).ToList(), 0, 0);
    }

    private static double? Number(JsonNode? node)
    {
        if (node is not JsonValue value) return null;
        if (value.TryGetValue<long>(out var whole)) return whole;
        return value.TryGetValue<double>(out var real) && double.IsFinite(real) ? real : null;
    }

    private static string Word(JsonObject map, string key, string source, string fallback) => map[key] switch
    {
        null => fallback,
        JsonValue value when value.TryGetValue<string>(out var text) => text.Trim().ToLowerInvariant(),
        var other => throw new RecipeException(source, key, $"expected a word, got {other.ToJsonString()}"),
    };

    private static int? Integer(JsonObject map, string key, string path, string source, int? fallback, long min, long max)
    {
        var node = map[key];
        if (node is null) return fallback;
        if (node is not JsonValue value || !value.TryGetValue<long>(out var number))
            throw new RecipeException(source, path, $"expected a whole number, got {node.ToJsonString()}");
        if (number < min || number > max) throw new RecipeException(source, path, $"expected {min} to {max}, got {number}");
        return (int)number;
    }

    internal static string Show(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
