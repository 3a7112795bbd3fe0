namespace Pipeline.Hosting;

/// <summary>Declares the resource graph (Aspire's IDistributedApplicationBuilder, reduced to what we run).</summary>
public interface IDistributedApplicationBuilder
{
    DistributedApplicationOptions Options { get; }
    IReadOnlyList<IResource> Resources { get; }
    IResourceBuilder<T> AddResource<T>(T resource) where T : IResource;

    /// <summary>A builder for a resource declared earlier (e.g. by the AppHost, seen from a test).</summary>
    IResourceBuilder<T> CreateResourceBuilder<T>(string name) where T : IResource;

    DistributedApplication Build();
}

/// <summary>A declared resource plus the builder it belongs to, for fluent configuration.</summary>
public interface IResourceBuilder<out T> where T : IResource
{
    IDistributedApplicationBuilder ApplicationBuilder { get; }
    T Resource { get; }
}

internal sealed class ResourceBuilder<T>(IDistributedApplicationBuilder applicationBuilder, T resource) : IResourceBuilder<T>
    where T : IResource
{
    public IDistributedApplicationBuilder ApplicationBuilder { get; } = applicationBuilder;
    public T Resource { get; } = resource;
}
