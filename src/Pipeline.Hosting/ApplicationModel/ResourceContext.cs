namespace Pipeline.Hosting;

/// <summary>Where a resource finds the repository and its own folder of the run.</summary>
public sealed class ResourceContext(DistributedApplicationOptions options, DistributedApplicationModel model, ProcessResource resource)
{
    public DistributedApplicationOptions Options { get; } = options;
    public DistributedApplicationModel Model { get; } = model;

    /// <summary>The repository root: relative project and tool paths resolve against it.</summary>
    public string AppDirectory => Options.AppDirectory;

    /// <summary>This resource's private folder under the run folder (data, config, HOME).</summary>
    public string DataDirectory { get; } = Path.Combine(options.RunDirectory, resource.Name);
}
