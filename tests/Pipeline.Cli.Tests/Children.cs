namespace Pipeline.Cli.Tests;

/// <summary>This process's child processes, as /proc shows them (the launcher's ranks).</summary>
internal static class Children
{
    /// <summary>Live children whose command line mentions <paramref name="marker"/>, with the RANK of their environment.</summary>
    public static IReadOnlyList<(int Pid, int Rank)> OfThisProcess(string marker)
    {
        var found = new List<(int, int)>();
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
                var rank = File.ReadAllText(Path.Combine(folder, "environ")).Split('\0').FirstOrDefault(v => v.StartsWith("RANK=", StringComparison.Ordinal));
                if (rank is not null) found.Add((pid, int.Parse(rank[5..], System.Globalization.CultureInfo.InvariantCulture)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours
            }
        }
        return found;
    }
}
