namespace Pipeline.Hosting;

/// <summary>Any command line (Aspire's AddExecutable). The command is looked up on PATH unless it has a slash.</summary>
public sealed class ExecutableResource(string name, string command, string workingDirectory, IReadOnlyList<string> args)
    : ProcessResource(name)
{
    public override string TypeName => "Executable";
    public string Command { get; } = command;
    public string WorkingDirectory { get; } = workingDirectory;
    public IList<string> Args { get; } = [.. args];

    /// <summary>Path probed over HTTP on the "http" endpoint; null: no health check.</summary>
    public string? HealthCheckPath { get; internal set; }

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica)
    {
        var environment = Endpoints
            .Where(e => e.EnvironmentVariable is not null)
            .ToDictionary(e => e.EnvironmentVariable!, e => e.Port(replica).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new ProcessLaunch(Command, [.. Args], Path.GetFullPath(WorkingDirectory, context.AppDirectory), environment);
    }

    public override IHealthCheck? GetHealthCheck(ResourceContext context, int replica) =>
        HealthCheckPath is null ? null : new HttpHealthCheck(new Uri(GetEndpoint("http").Url(replica) + HealthCheckPath));
}
