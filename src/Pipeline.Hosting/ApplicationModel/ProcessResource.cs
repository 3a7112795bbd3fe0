namespace Pipeline.Hosting;

/// <summary>A resource that runs as supervised local processes (one per replica).</summary>
public abstract class ProcessResource(string name) : IResource
{
    public string Name { get; } = name;

    /// <summary>Shown in listings (e.g. "RabbitMQ", "Project").</summary>
    public abstract string TypeName { get; }

    public int Replicas { get; internal set; } = 1;
    public IList<EndpointAnnotation> Endpoints { get; } = [];
    public IList<IResource> References { get; } = [];
    public IList<IResource> WaitsFor { get; } = [];
    internal IDictionary<string, Func<string>> Environment { get; } = new Dictionary<string, Func<string>>(StringComparer.Ordinal);

    public EndpointAnnotation? FindEndpoint(string endpointName) =>
        Endpoints.FirstOrDefault(e => string.Equals(e.Name, endpointName, StringComparison.Ordinal));

    public EndpointAnnotation GetEndpoint(string endpointName) =>
        FindEndpoint(endpointName) ?? throw new InvalidOperationException($"Resource '{Name}' has no endpoint '{endpointName}'.");

    /// <summary>Executables the resource needs on this machine (checked before anything starts).</summary>
    public virtual IEnumerable<string> RequiredFiles(ResourceContext context) => [];

    /// <summary>At build, once the run folder is known: load or generate the credentials this resource's data folder
    /// keeps (see <see cref="ResourceSecrets"/>), so that connection strings are complete before anything starts.</summary>
    public virtual void InitializeSecrets(string dataDirectory)
    {
    }

    /// <summary>Once per application start, before any replica runs: write configs, build code.</summary>
    public virtual Task PrepareAsync(ResourceContext context, Action<string> log, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>How to run one replica. The environment holds only what this resource adds;
    /// references, replica and marker variables are added by the orchestrator.</summary>
    public abstract ProcessLaunch GetLaunch(ResourceContext context, int replica);

    /// <summary>Null: healthy as soon as the process runs (Aspire's rule for resources without checks).</summary>
    public virtual IHealthCheck? GetHealthCheck(ResourceContext context, int replica) => null;

    public string InstanceName(int replica) => Replicas == 1 ? Name : $"{Name}-{replica}";
}

/// <summary>The command line of one process: what the supervisor hands to the launcher.</summary>
public sealed record ProcessLaunch(
    string FileName,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment);
