using System.Reflection;
using System.Runtime.CompilerServices;

namespace Pipeline.Hosting.Testing;

/// <summary>Starts an application graph from a test, as Aspire.Hosting.Testing does: either the AppHost's
/// own graph (its entry point runs until Build, the test may add or change resources, then the test
/// owns the application) or a new, empty graph for a part of the system.</summary>
public static class DistributedApplicationTestingBuilder
{
    /// <summary>An empty graph with test defaults: a private run folder under the temp directory, no console output.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // GetCallingAssembly must see the test
    public static IDistributedApplicationTestingBuilder Create(params string[] args)
    {
        var options = TestOptions(args, Assembly.GetCallingAssembly());
        return new TestingBuilder(new DistributedApplicationBuilder(options), null);
    }

    /// <summary>Runs the entry point of <typeparamref name="TEntryPoint"/>'s assembly (the AppHost) up to its
    /// Build() call and returns its builder, so the test sees and extends the real graph.</summary>
    public static async Task<IDistributedApplicationTestingBuilder> CreateAsync<TEntryPoint>(
        string[]? args = null, CancellationToken cancellationToken = default) where TEntryPoint : class
    {
        args ??= [];
        var entryPoint = typeof(TEntryPoint).Assembly.EntryPoint
            ?? throw new InvalidOperationException($"{typeof(TEntryPoint).Assembly.GetName().Name} has no entry point.");
        var hook = new DistributedApplicationTestingHook(TestOptions(args, typeof(TEntryPoint).Assembly));
        var main = DistributedApplicationTestingHook.RunWith(hook, () => Invoke(entryPoint, args));
        var builder = await Task.WhenAny(hook.Builder, main) == main
            ? throw new InvalidOperationException("The AppHost's entry point ended without building an application.", main.Exception?.InnerException)
            : await hook.Builder;
        return new TestingBuilder(builder, hook) { EntryPoint = main };
    }

    // Projects are built in the configuration of the test (or AppHost) build, not of the test host.
    private static DistributedApplicationOptions TestOptions(string[] args, Assembly buildOf)
    {
        var options = new DistributedApplicationOptions
        {
            Configuration = buildOf.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug",
            ConsoleOutput = false,
            DataDirectory = Path.Combine(Path.GetTempPath(), "pipeline-tests", Guid.NewGuid().ToString("N")[..12]),
        };
        var temporary = options.DataDirectory;
        options.ApplyArguments(args);
        options.DeleteRunDirectoryOnDispose = options.DataDirectory == temporary;
        return options;
    }

    private static async Task Invoke(MethodInfo entryPoint, string[] args)
    {
        var result = entryPoint.GetParameters().Length == 0 ? entryPoint.Invoke(null, null) : entryPoint.Invoke(null, [args]);
        if (result is Task task)
        {
            await task;
        }
    }

    private sealed class TestingBuilder(DistributedApplicationBuilder inner, DistributedApplicationTestingHook? hook)
        : IDistributedApplicationTestingBuilder
    {
        public Task? EntryPoint { get; init; }
        public DistributedApplicationOptions Options => inner.Options;
        public IReadOnlyList<IResource> Resources => inner.Resources;
        public IResourceBuilder<T> AddResource<T>(T resource) where T : IResource => Wrap(inner.AddResource(resource));
        public IResourceBuilder<T> CreateResourceBuilder<T>(string name) where T : IResource => Wrap(inner.CreateResourceBuilder<T>(name));

        public DistributedApplication Build()
        {
            var app = inner.BuildApplication();
            app.HostedByTest = hook is not null;
            hook?.Release(app);
            return app;
        }

        public Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default) => Task.FromResult(Build());

        // Fluent calls from the test stay on the testing builder (so Build() goes through the hook).
        private ResourceBuilder<T> Wrap<T>(IResourceBuilder<T> builder) where T : IResource => new(this, builder.Resource);
    }
}

public interface IDistributedApplicationTestingBuilder : IDistributedApplicationBuilder
{
    Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default);
}
