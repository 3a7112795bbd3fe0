using System.Text;

namespace Pipeline.Hosting.Tests;

/// <summary>An independent look at /proc (not the supervisor's own sweep): which processes still
/// mention a run, by command line or environment.</summary>
internal static class ProcessScan
{
    public static List<string> Find(params string[] needles)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var cmdline = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Replace('\0', ' ');
                var environ = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ")));
                if (cmdline.Length > 0 && needles.Any(n => cmdline.Contains(n, StringComparison.Ordinal) || environ.Contains(n, StringComparison.Ordinal)))
                {
                    found.Add($"{pid}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited meanwhile, or not ours.
            }
        }
        return found;
    }

    /// <summary>Processes mentioning the needles, once the stragglers had a moment to be reaped.</summary>
    public static async Task<List<string>> RemainingAsync(params string[] needles)
    {
        var remaining = Find(needles);
        for (var i = 0; i < 20 && remaining.Count > 0; i++)
        {
            await Task.Delay(250);
            remaining = Find(needles);
        }
        return remaining;
    }
}
