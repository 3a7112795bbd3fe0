using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Hosting;

/// <summary>A .NET project of the repository (Aspire's AddProject), with an HTTP endpoint per replica
/// and readiness on GET /health/ready.</summary>
public sealed class ProjectResource : ProcessResource, IResourceWithMetrics
{
    private string? targetPath;

    public ProjectResource(string name, string projectPath) : base(name)
    {
        ProjectPath = projectPath;
        Endpoints.Add(new EndpointAnnotation("http", "http"));
    }

    public override string TypeName => "Project";

    /// <summary>Every service maps <c>/metrics</c> through ServiceDefaults.</summary>
    public string MetricsEndpointName => "http";
    public string MetricsPath => "/metrics";

    /// <summary>A .csproj or the folder holding exactly one, relative to the repository root.</summary>
    public string ProjectPath { get; }

    public string HealthCheckPath { get; internal set; } = "/health/ready";

    /// <summary>Each replica wants a GPU (published: a StatefulSet requesting <c>nvidia.com/gpu</c>); locally it uses
    /// one when the machine has it.</summary>
    public bool UsesGpu { get; internal set; }

    /// <summary>Its <c>PIPELINE_DATA_DIR</c> must outlive the process (published: a persistent volume per replica).</summary>
    public bool HasDataVolume { get; internal set; }

    public string ProjectFile(string appDirectory)
    {
        var path = Path.GetFullPath(ProjectPath, appDirectory);
        if (File.Exists(path))
        {
            return path;
        }
        var candidates = Directory.Exists(path) ? Directory.GetFiles(path, "*.csproj") : [];
        return candidates.Length == 1
            ? candidates[0]
            : throw new FileNotFoundException($"Project '{Name}': expected one .csproj at {path}, found {candidates.Length}.");
    }

    // Built once at start, then run as `dotnet <dll>`: `dotnet run --no-build` would evaluate the
    // MSBuild project again for every replica and every restart (seconds each on 2 cores), and a build
    // per launch would race replicas on the same obj/ folder. One build up front also surfaces compile
    // errors before anything starts.
    public override async Task PrepareAsync(ResourceContext context, Action<string> log, CancellationToken cancellationToken)
    {
        var project = ProjectFile(context.AppDirectory);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = context.AppDirectory,
        };
        foreach (var a in (string[])["build", project, "-c", context.Options.Configuration, "-nologo", "-v", "q", "-t:Build", "-getProperty:TargetPath"])
        {
            psi.ArgumentList.Add(a);
        }
        log($"dotnet build {project} -c {context.Options.Configuration}");
        using var build = Process.Start(psi)!;
        var stdout = build.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = build.StandardError.ReadToEndAsync(cancellationToken);
        await build.WaitForExitAsync(cancellationToken);
        var output = (await stdout).Trim();
        foreach (var line in (output + "\n" + await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            log(line);
        }
        var lastLine = output.Split('\n').Last().Trim();
        if (build.ExitCode != 0 || !File.Exists(lastLine))
        {
            throw new InvalidOperationException($"Building {project} failed (exit code {build.ExitCode}); see the log of '{Name}'.");
        }
        targetPath = lastLine;
    }

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica)
    {
        var dll = targetPath ?? throw new InvalidOperationException($"Project '{Name}' was not built.");
        var port = GetEndpoint("http").Port(replica).ToString(CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string>
        {
            ["OTEL_SERVICE_NAME"] = Name,
            ["OTEL_SERVICE_INSTANCE_ID"] = InstanceName(replica),
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["HTTP_PORTS"] = port,
            // Production: Development would turn on the developer exception page, which echoes request headers
            // (the API key among them) and stack traces to whoever caused the error.
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            // A private folder per replica under the run folder: state that must outlive a restart (e.g. a registry).
            ["PIPELINE_DATA_DIR"] = Path.Combine(context.DataDirectory, replica.ToString(CultureInfo.InvariantCulture)),
        };
        if (context.Options.OtlpEndpoint is { } otlp)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp;
        }
        // Each replica its own GPU, round robin over the machine's (or over those CUDA_VISIBLE_DEVICES leaves us).
        if (UsesGpu && GpuInventory.DeviceFor(replica, GpuInventory.Visible()) is { } gpu)
        {
            environment["CUDA_VISIBLE_DEVICES"] = gpu;
        }
        // The project folder is the content root, as under `dotnet run` and Aspire.
        return new ProcessLaunch("dotnet", [dll], Path.GetDirectoryName(ProjectFile(context.AppDirectory))!, environment);
    }

    public override IHealthCheck GetHealthCheck(ResourceContext context, int replica) =>
        new HttpHealthCheck(new Uri(GetEndpoint("http").Url(replica) + HealthCheckPath));
}
