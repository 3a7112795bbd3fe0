using System.Globalization;

namespace Pipeline.Hosting;

/// <summary>Chooses the folder of a run: --data-dir as given, .run/data with --keep-data, else a fresh
/// .run/&lt;timestamp&gt; (older ones pruned so that runs do not pile up).</summary>
internal static class RunFolder
{
    private const int KeptRuns = 5;

    public static string Resolve(DistributedApplicationOptions options)
    {
        var runs = Path.Combine(options.AppDirectory, ".run");
        var folder = options.DataDirectory
            ?? (options.KeepData
                ? Path.Combine(runs, "data")
                : Path.Combine(runs, DateTime.Now.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)));
        if (options.DataDirectory is null && !options.KeepData)
        {
            Prune(runs);
        }
        // Owner-only: it holds the run's credentials, blobs and broker database.
        ResourceSecrets.CreateOwnerOnlyDirectory(folder);
        return Path.GetFullPath(folder);
    }

    private static void Prune(string runs)
    {
        if (!Directory.Exists(runs))
        {
            return;
        }
        // Timestamped names sort by time; "data" (the kept folder) never matches the pattern.
        foreach (var old in Directory.GetDirectories(runs, "20*-*").Order(StringComparer.Ordinal).SkipLast(KeptRuns - 1))
        {
            try
            {
                Directory.Delete(old, recursive: true);
            }
            catch (IOException)
            {
                // Still in use by another AppHost: leave it.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
