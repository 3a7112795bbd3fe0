namespace Pipeline.Vision.Data.Sources;

/// <summary>Turns an archive entry name into a safe relative path, or says why it is not one.</summary>
internal static class EntryPath
{
    /// <summary>The normalized '/'-separated path, or null with <paramref name="reason"/> when the name is absolute,
    /// climbs out of the root with "..", or holds a NUL.</summary>
    public static string? Normalize(string name, out string? reason)
    {
        reason = null;
        var unified = name.Replace('\\', '/');
        if (unified.Contains('\0', StringComparison.Ordinal)) { reason = "name holds a NUL character"; return null; }
        if (unified.StartsWith('/') || (unified.Length >= 2 && unified[1] == ':' && char.IsAsciiLetter(unified[0])))
        {
            reason = "absolute path escapes the archive's folder";
            return null;
        }
        var parts = new List<string>();
        foreach (var part in unified.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) { reason = "path climbs out of the archive's folder with '..'"; return null; }
                parts.RemoveAt(parts.Count - 1);
            }
            else parts.Add(part);
        }
        return string.Join('/', parts);
    }
}
