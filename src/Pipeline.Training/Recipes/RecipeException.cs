namespace Pipeline.Training.Recipes;

/// <summary>A recipe that cannot be used: names the file (or "command line") and the key at fault.</summary>
public sealed class RecipeException : Exception
{
    public RecipeException(string source, string? key, string problem)
        : base(key is null ? $"{source}: {problem}" : $"{source}: key '{key}': {problem}")
    {
        Source = source;
        Key = key;
    }

    public RecipeException() { }
    public RecipeException(string message) : base(message) { }
    public RecipeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The file the offending key came from, or "command line".</summary>
    public new string? Source { get; }
    /// <summary>The dotted key (<c>optimizer.lr</c>), or null for a whole-file problem.</summary>
    public string? Key { get; }
}
