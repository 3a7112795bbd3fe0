namespace Pipeline.Hosting;

/// <summary>The fluent verbs shared by every process resource (Aspire's names and meanings).</summary>
public static class ResourceBuilderExtensions
{
    /// <summary>Injects the source's connection string (<c>ConnectionStrings__name</c>) or its endpoints
    /// (<c>services__name__endpoint__i</c>), and stops this resource before the source at shutdown.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> source)
        where T : ProcessResource
    {
        if (source.Resource is not IResourceWithConnectionString and not ProcessResource)
        {
            throw new ArgumentException($"Resource '{source.Resource.Name}' has neither a connection string nor endpoints.", nameof(source));
        }
        AddOnce(builder.Resource.References, source.Resource);
        return builder;
    }

    /// <summary>Each replica gets a GPU (see <see cref="ProjectResource.UsesGpu"/>).</summary>
    public static IResourceBuilder<ProjectResource> WithGpu(this IResourceBuilder<ProjectResource> builder)
    {
        builder.Resource.UsesGpu = true;
        return builder;
    }

    /// <summary>The project's data folder persists (see <see cref="ProjectResource.HasDataVolume"/>), as Aspire's WithDataVolume.</summary>
    public static IResourceBuilder<ProjectResource> WithDataVolume(this IResourceBuilder<ProjectResource> builder)
    {
        builder.Resource.HasDataVolume = true;
        return builder;
    }

    /// <summary>Starts this resource only once the dependency is healthy.</summary>
    public static IResourceBuilder<T> WaitFor<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> dependency)
        where T : ProcessResource
    {
        AddOnce(builder.Resource.WaitsFor, dependency.Resource);
        return builder;
    }

    /// <summary>Runs n processes of this resource, each with its own ports and PIPELINE_REPLICA_INDEX.</summary>
    public static IResourceBuilder<T> WithReplicas<T>(this IResourceBuilder<T> builder, int replicas)
        where T : ProcessResource
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        builder.Resource.Replicas = replicas;
        return builder;
    }

    /// <summary>Gives the resource an HTTP port per replica. For executables, <paramref name="env"/> names
    /// the variable that carries the port; projects get ASPNETCORE_URLS/HTTP_PORTS instead.</summary>
    public static IResourceBuilder<T> WithHttpEndpoint<T>(this IResourceBuilder<T> builder, string name = "http", string? env = null)
        where T : ProcessResource
    {
        if (builder.Resource.FindEndpoint(name) is null)
        {
            builder.Resource.Endpoints.Add(new EndpointAnnotation(name, "http", env));
        }
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, string value)
        where T : ProcessResource => builder.WithEnvironment(name, () => value);

    /// <summary>A value computed at launch (e.g. from another resource's allocated port).</summary>
    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, Func<string> value)
        where T : ProcessResource
    {
        builder.Resource.Environment[name] = value;
        return builder;
    }

    private static void AddOnce(IList<IResource> list, IResource resource)
    {
        if (!list.Contains(resource))
        {
            list.Add(resource);
        }
    }
}
