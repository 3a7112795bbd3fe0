namespace Pipeline.Cli.Tests;

/// <summary>This process's child processes, as /proc shows them (the launcher's ranks).</summary>
internal static class Children
{
    /// <summary>Live children whose command line mentions <paramref name="marker"/> and whose environment names a RANK.</summary>
    public static IReadOnlyList<(int Pid, int Rank, IReadOnlyDictionary<string, string> Environment)> OfThisProcess(string marker)
    {
        var found = new List<(int, int, IReadOnlyDictionary<string, string>)>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            try
            {
                // stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after the last ')'.
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z" || int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) != Environment.ProcessId) continue;
                if (!File.ReadAllText(Path.Combine(folder, "cmdline")).Contains(marker, StringComparison.Ordinal)) continue;
                var environment = File.ReadAllText(Path.Combine(folder, "environ")).Split('\0').Where(v => v.Contains('=', StringComparison.Ordinal))
                    .Select(v => v.Split('=', 2)).GroupBy(kv => kv[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);
                if (environment.TryGetValue("RANK", out var rank))
                    found.Add((pid, int.Parse(rank, System.Globalization.CultureInfo.InvariantCulture), environment));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours
            }
        }
        return found;
    }
}
