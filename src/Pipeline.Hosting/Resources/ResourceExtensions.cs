namespace Pipeline.Hosting;

/// <summary>Add* verbs of the builder, named as in Aspire.</summary>
public static class ResourceExtensions
{
    public static IResourceBuilder<RabbitMQServerResource> AddRabbitMQ(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new RabbitMQServerResource(name));

    public static IResourceBuilder<AzuriteResource> AddAzurite(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new AzuriteResource(name));

    public static IResourceBuilder<AzuriteBlobResource> AddBlobs(this IResourceBuilder<AzuriteResource> storage, string name) =>
        storage.ApplicationBuilder.AddResource(new AzuriteBlobResource(name, storage.Resource));

    public static IResourceBuilder<PrometheusResource> AddPrometheus(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new PrometheusResource(name));

    /// <summary>A .NET project by path relative to the repository root (folder or .csproj).</summary>
    public static IResourceBuilder<ProjectResource> AddProject(this IDistributedApplicationBuilder builder, string name, string projectPath) =>
        builder.AddResource(new ProjectResource(name, projectPath));

    /// <summary>A command line; <paramref name="workingDirectory"/> is relative to the repository root.</summary>
    public static IResourceBuilder<ExecutableResource> AddExecutable(
        this IDistributedApplicationBuilder builder, string name, string command, string workingDirectory, params string[] args) =>
        builder.AddResource(new ExecutableResource(name, command, workingDirectory, args));

    public static IResourceBuilder<ExecutableResource> WithArgs(this IResourceBuilder<ExecutableResource> builder, params string[] args)
    {
        foreach (var a in args)
        {
            builder.Resource.Args.Add(a);
        }
        return builder;
    }

    /// <summary>Readiness by GET on the "http" endpoint (a 2xx is healthy).</summary>
    public static IResourceBuilder<ExecutableResource> WithHttpHealthCheck(this IResourceBuilder<ExecutableResource> builder, string path)
    {
        builder.WithHttpEndpoint();
        builder.Resource.HealthCheckPath = path;
        return builder;
    }

    public static IResourceBuilder<ProjectResource> WithHttpHealthCheck(this IResourceBuilder<ProjectResource> builder, string path)
    {
        builder.Resource.HealthCheckPath = path;
        return builder;
    }
}
