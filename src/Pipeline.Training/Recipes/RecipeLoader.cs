using System.Text.Json.Nodes;

namespace Pipeline.Training.Recipes;

/// <summary>
/// Loads a recipe: defaults, then a YAML or JSON file with its <c>_base_</c> files (each base first, in order; later
/// keys win; maps merge deeply), then command-line overrides <c>key.sub=value</c>; validates the result.
/// </summary>
public static class RecipeLoader
{
    public const string BaseKey = "_base_";
    public const string CommandLine = "command line";

    /// <summary>The recipe of <paramref name="path"/> (null: defaults only) with <paramref name="overrides"/> applied.</summary>
    /// <param name="under">Recipe text merged below the file (a task's own defaults), or null.</param>
    public static Recipe Load(string? path = null, IEnumerable<string>? overrides = null, RecipeText? under = null) =>
        Bind(Compose(path, overrides, under));

    /// <summary>
    /// A recipe sent as text (a submitted job's); empty text gives the defaults. Errors name <paramref name="source"/>.
    /// The text is parsed in memory and must be self-contained: a service never opens files a client names, so
    /// <c>_base_</c> is refused here (the CLI resolves bases before it submits).
    /// </summary>
    public static Recipe LoadText(string? yaml, string source, IEnumerable<string>? overrides = null, RecipeText? under = null)
    {
        var document = ComposeText(yaml, source, under);
        ApplyOverrides(document, overrides);
        return Bind(document);
    }

    /// <summary>The merged tree of recipe text over <paramref name="under"/>, before overrides and binding.</summary>
    public static RecipeDocument ComposeText(string? yaml, string source, RecipeText? under = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var document = new RecipeDocument();
        if (under is not null) document.Merge(RecipeDocument.ParseText(under.Text, under.Source), under.Source);
        if (!string.IsNullOrWhiteSpace(yaml))
        {
            var map = RecipeDocument.ParseText(yaml, source);
            if (map.ContainsKey(BaseKey))
                throw new RecipeException(source, BaseKey, "a submitted recipe must be self-contained: bases are resolved where the files are (pipeline submit --config resolves them), never on the server");
            document.Merge(map, source);
        }
        return document;
    }

    /// <summary>The task that recipe text names with its own <c>task</c> key (<c>classify</c>, <c>detect</c>), or null when
    /// it names none and the dataset decides.</summary>
    public static string? DeclaredTask(string? yaml, string source)
    {
        if (string.IsNullOrWhiteSpace(yaml)) return null;
        var map = RecipeDocument.ParseText(yaml, source);
        if (!map.TryGetPropertyValue("task", out var node) || node is null) return null;
        if (node is not JsonValue value || !value.TryGetValue<string>(out var task) || task.ToLowerInvariant() is not ("classify" or "detect"))
            throw new RecipeException(source, "task", $"expected classify or detect, got {node.ToJsonString()}");
        return task.ToLowerInvariant();
    }

    /// <summary>The merged tree, before binding (each key knows its file).</summary>
    public static RecipeDocument Compose(string? path, IEnumerable<string>? overrides, RecipeText? under = null)
    {
        var document = new RecipeDocument();
        if (under is not null) document.Merge(RecipeDocument.ParseText(under.Text, under.Source), under.Source);
        if (path is not null)
        {
            if (!File.Exists(path)) throw new RecipeException(path, null, "no such recipe file");
            AddFile(document, Path.GetFullPath(path), []);
        }
        ApplyOverrides(document, overrides);
        return document;
    }

    /// <summary>Binds and validates a composed tree.</summary>
    public static Recipe Bind(RecipeDocument document)
    {
        var recipe = RecipeBinder.Bind(document);
        PretrainedBackbones.ApplyTo(recipe, document);
        RecipeValidator.Validate(recipe, document);
        return recipe;
    }

    /// <summary>Applies <c>key.sub=value</c> overrides (the command line's) over a composed tree.</summary>
    public static void ApplyOverrides(RecipeDocument document, IEnumerable<string>? overrides)
    {
        ArgumentNullException.ThrowIfNull(document);
        foreach (var item in overrides ?? [])
        {
            var text = item.StartsWith("--", StringComparison.Ordinal) ? item[2..] : item;
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new RecipeException(CommandLine, null, $"'{item}' is not an override of the form key.sub=value");
            var key = text[..eq].Trim();
            if (key == BaseKey) throw new RecipeException(CommandLine, key, "bases can only be named in a recipe file");
            document.Set(key, RecipeDocument.ParseValue(text[(eq + 1)..], CommandLine), CommandLine);
        }
    }

    private static void AddFile(RecipeDocument document, string path, List<string> including)
    {
        var map = RecipeDocument.ParseFile(path);
        including.Add(path);
        foreach (var basePath in BasesOf(map, path))
        {
            if (including.Contains(basePath, StringComparer.Ordinal))
                throw new RecipeException(path, BaseKey, $"cycle: {string.Join(" -> ", including.SkipWhile(p => p != basePath).Append(basePath))}");
            if (!File.Exists(basePath)) throw new RecipeException(path, BaseKey, $"base file '{basePath}' does not exist");
            AddFile(document, basePath, including);
        }
        including.RemoveAt(including.Count - 1);
        map.Remove(BaseKey);
        document.Merge(map, path);
    }

    // Bases are paths relative to the file that names them: a string or a list of strings.
    private static List<string> BasesOf(JsonObject map, string path)
    {
        if (!map.TryGetPropertyValue(BaseKey, out var node) || node is null) return [];
        var dir = Path.GetDirectoryName(path)!;
        var items = node is JsonArray list ? [.. list] : new List<JsonNode?> { node };
        var result = new List<string>();
        foreach (var item in items)
        {
            if (item is not JsonValue value || !value.TryGetValue<string>(out var name) || string.IsNullOrWhiteSpace(name))
                throw new RecipeException(path, BaseKey, $"expected a file name or a list of file names, got {item?.ToJsonString() ?? "null"}");
            result.Add(Path.GetFullPath(Path.Combine(dir, name)));
        }
        return result;
    }
}

/// <summary>Recipe text with the name its errors give (a task's built-in defaults).</summary>
public sealed record RecipeText(string Source, string Text);
