using System.Text.RegularExpressions;

namespace Pipeline.Hosting;

internal sealed partial class DistributedApplicationBuilder : IDistributedApplicationBuilder
{
    private readonly List<IResource> resources = [];

    public DistributedApplicationBuilder(DistributedApplicationOptions options) => Options = options;

    public DistributedApplicationOptions Options { get; }
    public IReadOnlyList<IResource> Resources => resources;

    public IResourceBuilder<T> AddResource<T>(T resource) where T : IResource
    {
        if (!ValidName().IsMatch(resource.Name))
        {
            throw new ArgumentException($"Resource name '{resource.Name}' must be lower-case letters, digits and dashes, starting with a letter.");
        }
        if (resources.Any(r => string.Equals(r.Name, resource.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' is already declared.");
        }
        resources.Add(resource);
        return new ResourceBuilder<T>(this, resource);
    }

    public IResourceBuilder<T> CreateResourceBuilder<T>(string name) where T : IResource =>
        resources.FirstOrDefault(r => r.Name == name) switch
        {
            T typed => new ResourceBuilder<T>(this, typed),
            null => throw new KeyNotFoundException($"No resource named '{name}'."),
            var other => throw new InvalidCastException($"Resource '{name}' is a {other.GetType().Name}, not a {typeof(T).Name}."),
        };

    public DistributedApplication Build() =>
        DistributedApplicationTestingHook.Intercept(this) ?? BuildApplication();

    internal DistributedApplication BuildApplication()
    {
        var model = new DistributedApplicationModel([.. resources]);
        // Publishing writes manifests only: no run folder.
        if (Options.Publish is null)
        {
            Options.RunDirectory = RunFolder.Resolve(Options);
            foreach (var resource in model.ProcessResources)
            {
                resource.InitializeSecrets(Path.Combine(Options.RunDirectory, resource.Name));
            }
        }
        PortAllocator.AllocateAll(model);
        return new DistributedApplication(Options, model);
    }

    // Names become environment variable parts, file names and Erlang-safe words.
    [GeneratedRegex("^[a-z][a-z0-9-]*$")]
    private static partial Regex ValidName();
}
