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

    private RecipeException(string message, string? source, string? key, Exception inner) : base(message, inner)
    {
        Source = source;
        Key = key;
    }

    /// <summary>The same error naming the recipe as its sender knows it: text read from a temporary copy at
    /// <paramref name="copy"/> (in <paramref name="folder"/>) is named <paramref name="source"/>, and the server's
    /// temporary folder appears nowhere.</summary>
    public RecipeException Renamed(string copy, string folder, string source)
    {
        ArgumentNullException.ThrowIfNull(copy);
        ArgumentNullException.ThrowIfNull(folder);
        string Rename(string text) => text.Replace(copy, source, StringComparison.Ordinal).Replace(folder + "/", "", StringComparison.Ordinal);
        return new RecipeException(Rename(Message), Source is null ? null : Rename(Source), Key, this);
    }

    /// <summary>The file the offending key came from, or "command line".</summary>
    public new string? Source { get; }
    /// <summary>The dotted key (<c>optimizer.lr</c>), or null for a whole-file problem.</summary>
    public string? Key { get; }
}
