namespace Pipeline.AppHost.Hosting;

public static class ServiceExtensions
{
    /// <summary>What every service of the pipeline gets: the broker and the blob store by reference (waiting for both),
    /// (not a connection string from configuration: that one is there already), an http endpoint, its health endpoint as Aspire's health check, and the Production environment (no developer exception page, which
    /// would show stack traces to callers).</summary>
    public static IResourceBuilder<ProjectResource> WithPipelineDefaults(this IResourceBuilder<ProjectResource> project,
        IResourceBuilder<IResourceWithConnectionString> rabbit, IResourceBuilder<IResourceWithConnectionString> blobs)
    {
        ArgumentNullException.ThrowIfNull(project);
        project.WithReference(rabbit).WithReference(blobs);
        if (rabbit.Resource is not ParameterResource)
        {
            project.WaitFor(rabbit);
        }
        if (blobs.Resource is not ParameterResource)
        {
            project.WaitFor(blobs);
        }
        return project
            // The services have no launch profile: Aspire gives each replica its own port behind this endpoint.
            .WithHttpEndpoint(name: "http")
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", "Production")
            .WithEnvironment("DOTNET_ENVIRONMENT", "Production")
            .WithHttpHealthCheck("/health/ready");
    }
}
