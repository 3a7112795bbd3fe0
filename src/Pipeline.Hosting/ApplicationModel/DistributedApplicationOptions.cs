using System.Reflection;

namespace Pipeline.Hosting;

/// <summary>How one application run is set up: where the repository and the run folder are.</summary>
public sealed class DistributedApplicationOptions
{
    /// <summary>The repository root. Default: the AppHost's build-time metadata, else the folder
    /// above the current directory that holds Pipeline.sln.</summary>
    public string AppDirectory { get; set; } = DefaultAppDirectory();

    /// <summary>Holds each resource's data and logs. Default: .run/&lt;timestamp&gt; (or .run/data with --keep-data).</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Reuse a fixed run folder between runs (RabbitMQ queues, blobs and metrics survive).</summary>
    public bool KeepData { get; set; }

    /// <summary>Build configuration for project resources: the AppHost's own.</summary>
    public string Configuration { get; set; } =
        Assembly.GetEntryAssembly()?.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>Passed to projects as OTEL_EXPORTER_OTLP_ENDPOINT when set (default: the AppHost's own variable).</summary>
    public string? OtlpEndpoint { get; set; } = System.Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");

    /// <summary>How long a process gets after SIGTERM before its group is killed.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Print the resource table, state changes and the healthy line.</summary>
    public bool ConsoleOutput { get; set; } = true;

    /// <summary>Lines of console output kept in memory per process.</summary>
    public int LogCapacity { get; set; } = 5000;

    /// <summary>The dashboard to host (AddDashboard); null: none.</summary>
    public DashboardOptions? Dashboard { get; set; }

    /// <summary>Set by the testing builder for the temporary run folder it chose.</summary>
    internal bool DeleteRunDirectoryOnDispose { get; set; }

    /// <summary>Resolved at build: the run folder in use.</summary>
    public string RunDirectory { get; internal set; } = "";

    /// <summary>Reads --data-dir PATH and --keep-data; other arguments are left to the caller.</summary>
    /// <summary>Set by <c>publish --output DIR</c>: write Kubernetes manifests instead of running.</summary>
    public Publishing.PublishOptions? Publish { get; set; }

    public void ApplyArguments(IReadOnlyList<string> args)
    {
        if (args.Count > 0 && args[0] == "publish")
        {
            string? output = null, registry = null, tag = null, blobs = null;
            for (var i = 1; i < args.Count; i++)
            {
                string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--output" or "-o": output = Value(); break;
                    case "--registry": registry = Value(); break;
                    case "--tag": tag = Value(); break;
                    case "--blob-connection-string": blobs = Value(); break;
                    default: throw new ArgumentException($"publish: unknown option '{args[i]}' (known: --output, --registry, --tag, --blob-connection-string).");
                }
            }
            if (output is null) throw new ArgumentException("publish needs --output <dir>.");
            Publish = new Publishing.PublishOptions(Path.GetFullPath(output), registry ?? "pipeline", tag ?? "latest", blobs);
            return;
        }
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--keep-data":
                    KeepData = true;
                    break;
                case "--data-dir" when i + 1 < args.Count:
                    DataDirectory = Path.GetFullPath(args[++i]);
                    break;
                case "--data-dir":
                    throw new ArgumentException("--data-dir needs a folder.");
            }
        }
    }

    private static string DefaultAppDirectory()
    {
        // Like Aspire's AppHost project path: baked into the AppHost at build time, so that
        // `dotnet run --project AppHost` works from any current directory.
        var baked = Assembly.GetEntryAssembly()?.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "PipelineAppDirectory")?.Value;
        if (baked is not null && Directory.Exists(baked))
        {
            return Path.GetFullPath(baked);
        }
        for (var dir = new DirectoryInfo(System.Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                return dir.FullName;
            }
        }
        return System.Environment.CurrentDirectory;
    }
}
