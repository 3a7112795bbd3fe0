namespace Pipeline.Hosting;

/// <summary>A named port of a resource, one per replica, allocated on 127.0.0.1 when the application is built.</summary>
public sealed class EndpointAnnotation(string name, string scheme, string? environmentVariable = null, bool isInternal = false)
{
    private int[]? ports;

    public string Name { get; } = name;
    public string Scheme { get; } = scheme;

    /// <summary>For executables: the variable that tells the process which port to listen on.</summary>
    public string? EnvironmentVariable { get; } = environmentVariable;

    /// <summary>Used by the resource itself (Erlang distribution, epmd), not shown or referenced.</summary>
    public bool IsInternal { get; } = isInternal;

    public bool IsAllocated => ports is not null;

    public int Port(int replica = 0) =>
        (ports ?? throw new InvalidOperationException($"Endpoint '{Name}' has no port yet: build the application first."))[replica];

    public string Url(int replica = 0) => $"{Scheme}://127.0.0.1:{Port(replica)}";

    internal void Allocate(int[] allocated) => ports = allocated;
}
