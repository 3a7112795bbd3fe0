namespace Pipeline.Storage;

/// <summary>
/// The naming rules every store enforces, so a name valid on one store is valid on all, and no name
/// can address anything outside its container (no "..", no absolute paths, no backslashes).
/// </summary>
public static class ArtifactNames
{
    /// <summary>Azure's limit on a blob name's length.</summary>
    public const int MaxBlobNameLength = 1024;

    /// <summary>Throws unless <paramref name="container"/> is 3-63 lowercase letters, digits and single inner hyphens.</summary>
    public static void ValidateContainer(string container)
    {
        ArgumentNullException.ThrowIfNull(container);
        var ok = container.Length is >= 3 and <= 63
            && container.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
            && container[0] != '-' && container[^1] != '-'
            && !container.Contains("--", StringComparison.Ordinal);
        if (!ok)
        {
            throw new ArgumentException(
                $"Container name '{container}' is not allowed: use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.",
                nameof(container));
        }
    }

    /// <summary>Throws unless <paramref name="blob"/> is a relative '/'-separated path that stays inside its container.</summary>
    public static void ValidateBlob(string blob)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var problem = BlobProblem(blob);
        if (problem is not null)
        {
            throw new ArgumentException($"Blob name '{blob}' is not allowed: {problem}.", nameof(blob));
        }
    }

    /// <summary>Throws unless <paramref name="prefix"/> could begin a valid blob name.</summary>
    public static void ValidatePrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return;
        }

        // A prefix may end mid-segment or with '/', but must not reach outside the container either.
        var endsWithSlash = prefix.EndsWith('/');
        var problem = BlobProblem(endsWithSlash ? prefix[..^1] : prefix, allowDotPrefixOfLast: !endsWithSlash);
        if (problem is not null)
        {
            throw new ArgumentException($"Blob prefix '{prefix}' is not allowed: {problem}.", nameof(prefix));
        }
    }

    /// <summary>Throws unless every metadata name is an identifier and every value a header-safe ASCII string.</summary>
    public static void ValidateMetadata(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in metadata)
        {
            var nameOk = name.Length > 0 && !char.IsAsciiDigit(name[0])
                && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
            if (!nameOk)
            {
                throw new ArgumentException(
                    $"Metadata name '{name}' is not allowed: use ASCII letters, digits and '_', not starting with a digit.",
                    nameof(metadata));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Metadata name '{name}' appears twice (names are case-insensitive).",
                    nameof(metadata));
            }

            ArgumentNullException.ThrowIfNull(value, nameof(metadata));
            // Values travel as HTTP header values, which are trimmed and must be visible ASCII.
            var valueOk = value.All(c => c is >= ' ' and <= '~') && value.Trim().Length == value.Length;
            if (!valueOk)
            {
                throw new ArgumentException(
                    $"Metadata value of '{name}' is not allowed: use printable ASCII without leading or trailing spaces.",
                    nameof(metadata));
            }
        }
    }

    private static string? BlobProblem(string name, bool allowDotPrefixOfLast = false)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Length > MaxBlobNameLength)
        {
            return $"it is longer than {MaxBlobNameLength} characters";
        }

        if (name.Any(char.IsControl))
        {
            return "it contains a control character";
        }

        if (name.Contains('\\', StringComparison.Ordinal))
        {
            return "it contains '\\' (use '/' to separate segments)";
        }

        if (name[0] == '/')
        {
            return "it is an absolute path (it starts with '/')";
        }

        var segments = name.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            if (segment.Length == 0)
            {
                return "it has an empty segment ('//' or a trailing '/')";
            }

            // In a prefix, a last segment of "." or ".." may still grow into a name like "..data".
            if ((segment is "." or "..") && !(last && allowDotPrefixOfLast))
            {
                return $"it has a '{segment}' segment, which would escape or alias its folder";
            }
        }

        return null;
    }
}
