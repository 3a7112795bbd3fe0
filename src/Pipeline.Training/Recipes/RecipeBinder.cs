using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Training.Recipes;

/// <summary>
/// Binds a recipe tree onto the typed <see cref="Recipe"/>, starting from its defaults: keys are the properties'
/// snake_case names, enums their values' snake_case names. Unknown keys and wrong types fail naming the key and the
/// file that set it.
/// </summary>
internal static class RecipeBinder
{
    private static readonly ConcurrentDictionary<Type, Dictionary<string, PropertyInfo>> Properties = new();

    public static Recipe Bind(RecipeDocument document)
    {
        var recipe = new Recipe();
        BindObject(document.Root, recipe, "", document);
        return recipe;
    }

    /// <summary>The snake_case key of a property or enum value name (<c>BatchSize</c> → <c>batch_size</c>).</summary>
    public static string KeyOf(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    private static void BindObject(JsonObject map, object target, string prefix, RecipeDocument document)
    {
        var properties = PropertiesOf(target.GetType());
        foreach (var (key, value) in map)
        {
            var path = prefix.Length == 0 ? key : prefix + "." + key;
            if (!properties.TryGetValue(key, out var property))
            {
                var where = prefix.Length == 0 ? "a recipe" : $"'{prefix}'";
                throw new RecipeException(document.OriginOf(path), path, $"unknown key; {where} has: {string.Join(", ", properties.Keys)}");
            }
            // NullabilityInfoContext is not thread-safe: one per use.
            var nullable = new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable;
            property.SetValue(target, Convert(value, property.PropertyType, nullable, path, document, property.GetValue(target)));
        }
    }

    private static object? Convert(JsonNode? node, Type type, bool nullable, string path, RecipeDocument document, object? current)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is null)
        {
            if (nullable || underlying is not null) return null;
            throw Wrong(document, path, type, "null");
        }
        type = underlying ?? type;
        if (type.IsArray)
        {
            if (node is not JsonArray list) throw Wrong(document, path, type, node.ToJsonString());
            var element = type.GetElementType()!;
            var array = Array.CreateInstance(element, list.Count);
            for (var k = 0; k < list.Count; k++)
                array.SetValue(Convert(list[k], element, false, $"{path}[{k}]", document, null), k);
            return array;
        }
        if (type.IsClass && type != typeof(string))
        {
            if (node is not JsonObject map) throw Wrong(document, path, type, node.ToJsonString());
            var target = current ?? Activator.CreateInstance(type)!;
            BindObject(map, target, path, document);
            return target;
        }
        var kind = node.GetValueKind();
        if (type == typeof(string) && kind == JsonValueKind.String) return node.GetValue<string>();
        if (type == typeof(bool) && kind is JsonValueKind.True or JsonValueKind.False) return kind == JsonValueKind.True;
        // Numbers are read back from their text: a value parsed as an integer must still bind to a double.
        if (type == typeof(double) && kind == JsonValueKind.Number) return double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        if ((type == typeof(int) || type == typeof(long)) && kind == JsonValueKind.Number)
        {
            var text = node.ToJsonString();
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) &&
                (type == typeof(long) || value is >= int.MinValue and <= int.MaxValue))
                return type == typeof(int) ? (object)(int)value : value;
        }
        if (type.IsEnum && kind == JsonValueKind.String)
        {
            var text = node.GetValue<string>();
            foreach (var name in Enum.GetNames(type))
                if (KeyOf(name) == text) return Enum.Parse(type, name);
            throw new RecipeException(document.OriginOf(path), path, $"'{text}' is not one of: {string.Join(", ", Enum.GetNames(type).Select(KeyOf))}");
        }
        throw Wrong(document, path, type, node.ToJsonString());
    }

    private static RecipeException Wrong(RecipeDocument document, string path, Type type, string got) =>
        new(document.OriginOf(path), path, $"expected {Describe(type)}, got {got}");

    private static string Describe(Type type) =>
        type == typeof(string) ? "text" :
        type == typeof(bool) ? "true or false" :
        type == typeof(int) || type == typeof(long) ? "an integer" :
        type == typeof(double) ? "a number" :
        type.IsEnum ? $"one of: {string.Join(", ", Enum.GetNames(type).Select(KeyOf))}" :
        type.IsArray ? $"a list of {Describe(type.GetElementType()!)}" :
        "a map";

    private static Dictionary<string, PropertyInfo> PropertiesOf(Type type) =>
        Properties.GetOrAdd(type, t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .ToDictionary(p => KeyOf(p.Name), StringComparer.Ordinal));
}
