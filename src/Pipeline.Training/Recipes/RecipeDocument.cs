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

    /// <summary>The most bytes a recipe may hold: recipes are a few kilobytes; more is a mistake or an attack.</summary>
    public const int MaxBytes = 256 * 1024;

    /// <summary>The deepest nesting of maps and lists, and the most values a recipe may expand to (YAML aliases can
    /// make a small text expand exponentially).</summary>
    public const int MaxDepth = 32;
    public const int MaxValues = 100_000;

    /// <summary>Parses a YAML or JSON file (by extension; YAML otherwise) into a map.</summary>
    public static JsonObject ParseFile(string path)
    {
        string text;
        try
        {
            // Read at most one byte past the limit: a device (/dev/zero) or a huge file is refused, not swallowed.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var buffer = new byte[MaxBytes + 1];
            var length = 0;
            for (int n; length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0;) length += n;
            if (length > MaxBytes) throw new RecipeException(path, null, $"over the limit of {MaxBytes} bytes for a recipe");
            text = new System.Text.UTF8Encoding(false).GetString(buffer, 0, length).TrimStart('\uFEFF');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new RecipeException(path, null, $"cannot read the recipe: {e.Message}"); }
        return ParseText(text, path, Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Parses recipe text (JSON when <paramref name="json"/>, else YAML, which also reads JSON) into a map; errors
    /// name <paramref name="source"/>.</summary>
    public static JsonObject ParseText(string text, string source, bool json = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxBytes) throw new RecipeException(source, null, $"{bytes} bytes, over the limit of {MaxBytes} bytes for a recipe");
        var node = json ? ParseJson(text, source) : ParseYaml(text, source);
        return node switch
        {
            null => [],
            JsonObject map => map,
            _ => throw new RecipeException(source, null, "a recipe must be a map of keys to values"),
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
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = MaxDepth });
        }
        catch (JsonException e) { throw new RecipeException(path, null, $"invalid JSON: {e.Message}"); }
    }

    private static JsonNode? ParseYaml(string text, string path)
    {
        var stream = new YamlStream();
        try
        {
            CheckYamlShape(text, path);
            stream.Load(new StringReader(text));
        }
        catch (YamlException e) { throw new RecipeException(path, null, $"invalid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}"); }
        var budget = MaxValues;
        return stream.Documents.Count == 0 ? null : FromYaml(stream.Documents[0].RootNode, path, ref budget);
    }

    // The representation model builds nested nodes recursively: a deep text would overflow the stack, which no
    // handler can catch. The event parser is flat, so the depth is checked on it first.
    private static void CheckYamlShape(string text, string path)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth)
                        throw new RecipeException(path, null, $"maps and lists nest deeper than {MaxDepth} levels (line {parser.Current.Start.Line})");
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    /// <summary>Parses a command-line value as YAML: <c>0.1</c>, <c>true</c>, <c>[30, 60]</c>, <c>{a: 1}</c>, or text.</summary>
    public static JsonNode? ParseValue(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            CheckYamlShape(text, source);
            stream.Load(new StringReader(text));
        }
        catch (YamlException) { return JsonValue.Create(text); }
        var budget = MaxValues;
        return stream.Documents.Count == 0 ? null : FromYaml(stream.Documents[0].RootNode, source, ref budget);
    }

    private static JsonNode? FromYaml(YamlNode node, string path, ref int budget)
    {
        if (--budget < 0) throw new RecipeException(path, null, $"the recipe expands to more than {MaxValues} values (through YAML aliases?)");
        switch (node)
        {
            case YamlMappingNode map:
                return FromYamlMap(map, path, ref budget);
            case YamlSequenceNode list:
                var array = new JsonArray();
                foreach (var child in list.Children) array.Add(FromYaml(child, path, ref budget));
                return array;
            case YamlScalarNode scalar:
                return FromYamlScalar(scalar);
            default:
                throw new RecipeException(path, null, $"unsupported YAML node at line {node.Start.Line}");
        }
    }

    private static JsonObject FromYamlMap(YamlMappingNode map, string path, ref int budget)
    {
        var result = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
                throw new RecipeException(path, null, $"a map key at line {key.Start.Line} is not a plain name");
            if (result.ContainsKey(name)) throw new RecipeException(path, name, $"appears twice (line {key.Start.Line})");
            result[name] = FromYaml(value, path, ref budget);
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
