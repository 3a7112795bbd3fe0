namespace Pipeline.Hosting;

/// <summary>Anything the AppHost declares: a process, or a part of one (blobs of an Azurite).</summary>
public interface IResource
{
    string Name { get; }
}

/// <summary>A resource that other resources reach through a connection string
/// (injected as <c>ConnectionStrings__&lt;name&gt;</c>, the Aspire convention).</summary>
public interface IResourceWithConnectionString : IResource
{
    /// <summary>Valid once the application is built (ports are allocated then).</summary>
    string GetConnectionString();
}

/// <summary>A resource that lives inside another one's process (its state mirrors the parent's).</summary>
public interface IResourceWithParent : IResource
{
    ProcessResource Parent { get; }
    string TypeName { get; }
}

/// <summary>A process that serves Prometheus metrics on one of its endpoints: the AppHost's Prometheus scrapes each
/// replica there (job = the resource's name, <c>replica</c> = the instance's).</summary>
public interface IResourceWithMetrics : IResource
{
    string MetricsEndpointName { get; }
    string MetricsPath { get; }
}
