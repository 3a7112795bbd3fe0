using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Training.Recipes;

/// <summary>Writes a resolved recipe as JSON in the recipe files' own spelling, so that it loads back unchanged.</summary>
public static class RecipeWriter
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = true,
    };

    public static string ToJson(Recipe recipe) => JsonSerializer.Serialize(recipe, Options);
}
