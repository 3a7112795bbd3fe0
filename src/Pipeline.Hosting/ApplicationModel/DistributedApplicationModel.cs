namespace Pipeline.Hosting;

/// <summary>The declared graph, validated and in start order (every resource after what it waits for).</summary>
public sealed class DistributedApplicationModel
{
    internal DistributedApplicationModel(IReadOnlyList<IResource> resources)
    {
        Resources = resources;
        ProcessResources = StartOrder(resources.OfType<ProcessResource>().ToList());
    }

    public IReadOnlyList<IResource> Resources { get; }

    /// <summary>Topologically sorted by dependency (WaitFor and references).</summary>
    public IReadOnlyList<ProcessResource> ProcessResources { get; }

    public IResource this[string name] =>
        Resources.FirstOrDefault(r => r.Name == name) ?? throw new KeyNotFoundException($"No resource named '{name}'.");

    /// <summary>The processes a resource depends on: waits and references, with children mapped to parents.</summary>
    public static IEnumerable<ProcessResource> Dependencies(ProcessResource resource) =>
        resource.WaitsFor.Concat(resource.References).Select(Owner).Distinct();

    /// <summary>The process that serves a resource: itself, or its parent for child resources.</summary>
    public static ProcessResource Owner(IResource resource) => resource switch
    {
        ProcessResource p => p,
        IResourceWithParent c => c.Parent,
        _ => throw new InvalidOperationException($"Resource '{resource.Name}' is not served by a process."),
    };

    private static List<ProcessResource> StartOrder(List<ProcessResource> resources)
    {
        var ordered = new List<ProcessResource>();
        var state = new Dictionary<ProcessResource, bool>(); // false: visiting, true: done
        foreach (var r in resources)
        {
            Visit(r, []);
        }
        return ordered;

        void Visit(ProcessResource r, List<string> path)
        {
            if (state.TryGetValue(r, out var done))
            {
                if (!done)
                {
                    throw new InvalidOperationException($"Dependency cycle: {string.Join(" -> ", path.Append(r.Name))}.");
                }
                return;
            }
            state[r] = false;
            foreach (var d in Dependencies(r))
            {
                if (!resources.Contains(d))
                {
                    throw new InvalidOperationException($"Resource '{r.Name}' depends on '{d.Name}', which is not part of this application.");
                }
                Visit(d, [.. path, r.Name]);
            }
            state[r] = true;
            ordered.Add(r);
        }
    }
}
