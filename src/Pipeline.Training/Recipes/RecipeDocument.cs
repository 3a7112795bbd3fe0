using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Training.Recipes;

/// <summary>
/// A recipe as a tree of maps, lists and scalars (JSON nodes, whether it was read from YAML or JSON), with the source
/// of every key, so that a later error can name the file that set it. <see cref="Merge"/> is MMDetection's rule:
/// maps merge key by key, anything else is replaced by the later value.
/// </summary>
public sealed partial class RecipeDocument
{
    private readonly Dictionary<string, string> origins = new(StringComparer.Ordinal);

    public RecipeDocument() => Root = [];

    public JsonObject Root { get; }

    /// <summary>The file (or "command line") that last set <paramref name="key"/> or its closest parent.</summary>
    public string OriginOf(string key)
    {
        for (var k = key; k.Length > 0; k = k.Contains('.', StringComparison.Ordinal) ? k[..k.LastIndexOf('.')] : "")
            if (origins.TryGetValue(k, out var origin)) return origin;
        return "defaults";
    }

    /// <summary>Parses a YAML or JSON file (by extension; YAML otherwise) into a map.</summary>
    public static JsonObject ParseFile(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new RecipeException(path, null, $"cannot read the recipe: {e.Message}"); }
        var node = Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase) ? ParseJson(text, path) : ParseYaml(text, path);
        return node switch
        {
            null => [],
            JsonObject map => map,
            _ => throw new RecipeException(path, null, "a recipe must be a map of keys to values"),
        };
    }

    /// <summary>Merges <paramref name="layer"/> over this document, recording <paramref name="source"/> for every key it sets.</summary>
    public void Merge(JsonObject layer, string source) => Merge(Root, layer, "", source);

    /// <summary>Sets one dotted key (<c>optimizer.lr</c>) to a value, creating maps on the way (a command-line override).</summary>
    public void Set(string dottedKey, JsonNode? value, string source)
    {
        var parts = dottedKey.Split('.');
        if (parts.Any(string.IsNullOrWhiteSpace)) throw new RecipeException(source, dottedKey, "malformed key");
        var map = Root;
        for (var k = 0; k < parts.Length - 1; k++)
        {
            var path = string.Join('.', parts[..(k + 1)]);
            if (map[parts[k]] is not JsonObject child)
            {
                if (map.ContainsKey(parts[k]) && map[parts[k]] is not null)
                    throw new RecipeException(source, dottedKey, $"'{path}' is not a map, so it has no key '{parts[k + 1]}'");
                child = [];
                map[parts[k]] = child;
                origins[path] = source;
            }
            map = child;
        }
        map[parts[^1]] = value;
        Record(dottedKey, value, source);
    }

    private void Merge(JsonObject target, JsonObject layer, string prefix, string source)
    {
        foreach (var (key, value) in layer.ToList())
        {
            var path = prefix.Length == 0 ? key : prefix + "." + key;
            if (value is JsonObject map && target[key] is JsonObject existing)
            {
                Merge(existing, map, path, source);
                continue;
            }
            target[key] = value?.DeepClone();
            Record(path, value, source);
        }
    }

    private void Record(string path, JsonNode? value, string source)
    {
        origins[path] = source;
        if (value is JsonObject map)
            foreach (var (key, child) in map) Record(path + "." + key, child, source);
    }

    // ---- parsing ----

    private static JsonNode? ParseJson(string text, string path)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e) { throw new RecipeException(path, null, $"invalid JSON: {e.Message}"); }
    }

    private static JsonNode? ParseYaml(string text, string path)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new RecipeException(path, null, $"invalid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}"); }
        return stream.Documents.Count == 0 ? null : FromYaml(stream.Documents[0].RootNode, path);
    }

    /// <summary>Parses a command-line value as YAML: <c>0.1</c>, <c>true</c>, <c>[30, 60]</c>, <c>{a: 1}</c>, or text.</summary>
    public static JsonNode? ParseValue(string text, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException) { return JsonValue.Create(text); }
        return stream.Documents.Count == 0 ? null : FromYaml(stream.Documents[0].RootNode, source);
    }

    private static JsonNode? FromYaml(YamlNode node, string path) => node switch
    {
        YamlMappingNode map => FromYamlMap(map, path),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(c => FromYaml(c, path))]),
        YamlScalarNode scalar => FromYamlScalar(scalar),
        _ => throw new RecipeException(path, null, $"unsupported YAML node at line {node.Start.Line}"),
    };

    private static JsonObject FromYamlMap(YamlMappingNode map, string path)
    {
        var result = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
                throw new RecipeException(path, null, $"a map key at line {key.Start.Line} is not a plain name");
            if (result.ContainsKey(name)) throw new RecipeException(path, name, $"appears twice (line {key.Start.Line})");
            result[name] = FromYaml(value, path);
        }
        return result;
    }

    // YAML 1.2's core schema for plain scalars; quoted scalars are always strings.
    private static JsonNode? FromYamlScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
            return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (IntegerPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            return JsonValue.Create(integer);
        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
            return JsonValue.Create(real);
        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
