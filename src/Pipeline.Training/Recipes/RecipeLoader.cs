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
    public static Recipe Load(string? path = null, IEnumerable<string>? overrides = null)
    {
        var document = Compose(path, overrides);
        var recipe = RecipeBinder.Bind(document);
        RecipeValidator.Validate(recipe, document);
        return recipe;
    }

    /// <summary>
    /// A recipe sent as text (e.g. in a job message); empty text gives the defaults. Errors name
    /// <paramref name="source"/> as the file.
    /// </summary>
    public static Recipe LoadText(string? yaml, string source, IEnumerable<string>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (string.IsNullOrWhiteSpace(yaml)) return Load(null, overrides);
        var folder = Directory.CreateTempSubdirectory("pipeline-recipe-").FullName;
        try
        {
            var path = Path.Combine(folder, Path.GetFileName(source));
            File.WriteAllText(path, yaml);
            try
            {
                return Load(path, overrides);
            }
            catch (RecipeException e)
            {
                throw e.Renamed(path, folder, source);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The merged tree, before binding (each key knows its file).</summary>
    public static RecipeDocument Compose(string? path, IEnumerable<string>? overrides)
    {
        var document = new RecipeDocument();
        if (path is not null)
        {
            if (!File.Exists(path)) throw new RecipeException(path, null, "no such recipe file");
            AddFile(document, Path.GetFullPath(path), []);
        }
        foreach (var item in overrides ?? [])
        {
            var text = item.StartsWith("--", StringComparison.Ordinal) ? item[2..] : item;
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new RecipeException(CommandLine, null, $"'{item}' is not an override of the form key.sub=value");
            var key = text[..eq].Trim();
            if (key == BaseKey) throw new RecipeException(CommandLine, key, "bases can only be named in a recipe file");
            document.Set(key, RecipeDocument.ParseValue(text[(eq + 1)..], CommandLine), CommandLine);
        }
        return document;
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
