using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;

namespace Pipeline.AppHost.Hosting;

/// <summary>
/// What one run of the AppHost is given: the repository (for infra/), the run folder every resource keeps its data in,
/// and the settings the services get. Each setting is read from configuration under the name of the environment
/// variable the services know (environment, <c>--NAME=value</c> on the command line, appsettings), so tests start this
/// same AppHost with their own values. The run folder: <c>--data-dir PATH</c>, or <c>.run/data</c> with
/// <c>--keep-data</c>, else a new <c>.run/&lt;timestamp&gt;</c> (the last five are kept).
/// </summary>
public sealed class PipelineRun
{
    private const int KeptRuns = 5;

    private PipelineRun(string appDirectory, string directory, IConfiguration configuration)
    {
        AppDirectory = appDirectory;
        Directory = directory;
        ApiKey = configuration["PIPELINE_API_KEY"] is { Length: > 0 } key
            ? key
            : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        // The studio's login token: like the dashboard's, new each run unless given.
        StudioToken = configuration["PIPELINE_STUDIO_TOKEN"] is { Length: > 0 } token
            ? token
            : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        // The folders of this machine that jobs may name by path: the bundled datasets and the user's own
        // (':'-separated). Anything else comes as an upload.
        DatasetRoots = string.Join(':', new[] { "/usr/share/datasets", configuration["PIPELINE_DATASET_ROOTS"] }.Where(r => !string.IsNullOrWhiteSpace(r)));
        TrainerReplicas = Positive(configuration, "PIPELINE_TRAINER_REPLICAS", 2, max: 64);
        UploadQuotaBytes = configuration["PIPELINE_UPLOAD_QUOTA_BYTES"] is { Length: > 0 } quota ? Positive("PIPELINE_UPLOAD_QUOTA_BYTES", quota, long.MaxValue) : null;
        DistTimeoutSeconds = configuration["PIPELINE_DIST_TIMEOUT"] is { Length: > 0 } timeout ? PositiveSeconds("PIPELINE_DIST_TIMEOUT", timeout) : null;
        // The datasets the studio offers and the dashboard's "Submit Fashion-MNIST" submits, by name (Name=/folder;...).
        BundledDatasets = configuration["PIPELINE_BUNDLED_DATASETS"] is { Length: > 0 } bundled ? bundled : "Fashion-MNIST=/usr/share/datasets/fashion-mnist";
        bundledByName = ParseDatasets("PIPELINE_BUNDLED_DATASETS", BundledDatasets);
        // The job registry lives in the ingest service's data folder.
        IngestDataDirectory = configuration["PIPELINE_DATA_DIR"] is { Length: > 0 } ingest ? Path.GetFullPath(ingest) : Path.Combine(directory, "ingest");
    }

    /// <summary>The repository root (where infra/ is), recorded at build time.</summary>
    public string AppDirectory { get; }

    /// <summary>The run folder (owner-only: it holds the run's credentials, blobs and broker database).</summary>
    public string Directory { get; }

    public string ApiKey { get; }
    public string StudioToken { get; }
    public string DatasetRoots { get; }
    public int TrainerReplicas { get; }
    public long? UploadQuotaBytes { get; }
    public string? DistTimeoutSeconds { get; }
    public string IngestDataDirectory { get; }

    /// <summary><c>PIPELINE_BUNDLED_DATASETS</c>: <c>Name=/folder;Other=/folder</c>.</summary>
    public string BundledDatasets { get; }

    private readonly Dictionary<string, string> bundledByName;

    /// <summary>The folder of the bundled dataset called <paramref name="name"/>, or null when none is.</summary>
    public string? BundledDataset(string name) => bundledByName.GetValueOrDefault(name);

    /// <summary>Set by <c>publish --output DIR</c>: write Kubernetes manifests of the graph instead of running it.</summary>
    public Publishing.PublishOptions? Kubernetes { get; private init; }

    /// <summary>Takes the AppHost's own options out of <paramref name="args"/>, creates Aspire's builder with the rest, and
    /// decides the run from both.</summary>
    public static (PipelineRun Run, IDistributedApplicationBuilder Builder) CreateBuilder(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? dataDir = null;
        var keepData = false;
        var rest = new List<string>();
        Publishing.PublishOptions? kubernetes = null;
        string Value(ref int i) => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
            ? args[++i]
            : throw new ArgumentException($"{args[i]} needs a value.");
        if (args.Length > 0 && args[0] == "publish")
        {
            // Kubernetes manifests: publish --output DIR [--registry REG] [--tag T] [--blob-connection-string S].
            string? output = null, registry = null, tag = null, blobs = null;
            for (var i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--output": output = Value(ref i); break;
                    case "--registry": registry = Value(ref i); break;
                    case "--tag": tag = Value(ref i); break;
                    case "--blob-connection-string": blobs = Value(ref i); break;
                    default: throw new ArgumentException($"publish does not know '{args[i]}': publish --output DIR [--registry REG] [--tag T] [--blob-connection-string S]");
                }
            }
            kubernetes = new Publishing.PublishOptions(
                Path.GetFullPath(output ?? throw new ArgumentException("publish needs --output DIR")), registry ?? "pipeline", tag ?? "latest", blobs);
            args = ["--operation", "publish"];
        }
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--keep-data":
                    keepData = true;
                    break;
                case "--data-dir":
                    dataDir = Value(ref i);
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }
        var app = AppDirectoryFromBuild();
        var runs = Path.Combine(app, ".run");
        var builder = DistributedApplication.CreateBuilder([.. rest]);
        if (builder.ExecutionContext.IsPublishMode)
        {
            // Nothing runs: no run folder, no credentials (the published resources take them as parameters).
            return (new PipelineRun(app, Path.Combine(runs, "publish"), builder.Configuration) { Kubernetes = kubernetes }, builder);
        }
        var folder = dataDir ?? (keepData ? Path.Combine(runs, "data") : Path.Combine(runs, DateTime.Now.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)));
        if (dataDir is null && !keepData)
        {
            Prune(runs);
        }
        folder = Path.GetFullPath(folder);
        ResourceSecrets.CreateOwnerOnlyDirectory(folder);
        return (new PipelineRun(app, folder, builder.Configuration), builder);
    }

    /// <summary>A run in <paramref name="directory"/> for a part of the graph declared elsewhere (a test's own graph of
    /// some of these resources), with the builder <paramref name="createBuilder"/> makes. It is called from here on
    /// purpose: Aspire.Hosting.Testing finds the AppHost (and DCP's path) by the assemblies on the calling stack.</summary>
    public static (PipelineRun Run, TBuilder Builder) CreatePart<TBuilder>(string directory, Func<TBuilder> createBuilder)
        where TBuilder : IDistributedApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(createBuilder);
        var builder = createBuilder();
        var folder = Path.GetFullPath(directory);
        ResourceSecrets.CreateOwnerOnlyDirectory(folder);
        return (new PipelineRun(AppDirectoryFromBuild(), folder, builder.Configuration), builder);
    }

    private static string AppDirectoryFromBuild()
    {
        var recorded = typeof(PipelineRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "PipelineAppDirectory")?.Value;
        return recorded is { Length: > 0 } && System.IO.Directory.Exists(recorded)
            ? Path.GetFullPath(recorded)
            : throw new InvalidOperationException($"The repository folder recorded at build time ({recorded ?? "none"}) is gone: build the AppHost where it runs.");
    }

    private static int Positive(IConfiguration configuration, string name, int fallback, int max) =>
        configuration[name] is { Length: > 0 } text ? (int)Positive(name, text, max) : fallback;

    private static long Positive(string name, string text, long max) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a whole number from 1 to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'.");

    private static string PositiveSeconds(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 && double.IsFinite(value)
            ? text
            : throw new ArgumentException($"{name} must be a number of seconds above 0, not '{text}'.");

    /// <summary><c>Name=/folder;Other=/folder</c> as the studio reads it (';' between entries: ':' belongs to paths).</summary>
    private static Dictionary<string, string> ParseDatasets(string setting, string text)
    {
        var datasets = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? entry[..eq].Trim() : "";
            var folder = eq > 0 ? entry[(eq + 1)..].Trim() : "";
            if (name.Length == 0 || !Path.IsPathRooted(folder))
            {
                throw new ArgumentException($"{setting}: '{entry}' is not NAME=/absolute/folder.");
            }
            datasets[name] = folder;
        }
        return datasets;
    }

    private static void Prune(string runs)
    {
        if (!System.IO.Directory.Exists(runs))
        {
            return;
        }
        // Timestamped names sort by time; "data" (the kept folder) never matches the pattern.
        foreach (var old in System.IO.Directory.GetDirectories(runs, "20*-*").Order(StringComparer.Ordinal).SkipLast(KeptRuns - 1))
        {
            try
            {
                System.IO.Directory.Delete(old, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Still in use by another AppHost: leave it.
            }
        }
    }
}
