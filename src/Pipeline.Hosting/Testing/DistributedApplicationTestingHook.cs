namespace Pipeline.Hosting;

/// <summary>Hands the builder of an AppHost entry point to a test. The entry point's Build() blocks until
/// the test has built the application, then returns that same application, whose RunAsync waits for the
/// test to stop it. Scoped by AsyncLocal, so only the entry point started by the test is intercepted.</summary>
internal sealed class DistributedApplicationTestingHook(DistributedApplicationOptions options)
{
    private static readonly AsyncLocal<DistributedApplicationTestingHook?> Current = new();
    private readonly TaskCompletionSource<DistributedApplicationBuilder> builder = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DistributedApplication> app = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DistributedApplicationOptions TestOptions { get; } = options;

    public Task<DistributedApplicationBuilder> Builder => builder.Task;

    public static Task RunWith(DistributedApplicationTestingHook hook, Func<Task> entryPoint) =>
        Task.Run(() =>
        {
            Current.Value = hook;
            return entryPoint();
        });

    /// <summary>Called by Build(): null outside a test.</summary>
    public static DistributedApplication? Intercept(DistributedApplicationBuilder appHostBuilder)
    {
        if (Current.Value is not { } hook)
        {
            return null;
        }
        Current.Value = null; // the test's own Build() must not come back here
        // The test's options (private run folder, quiet console) replace the AppHost's defaults.
        var o = appHostBuilder.Options;
        o.DataDirectory = hook.TestOptions.DataDirectory;
        o.KeepData = hook.TestOptions.KeepData;
        o.DeleteRunDirectoryOnDispose = hook.TestOptions.DeleteRunDirectoryOnDispose;
        o.ConsoleOutput = hook.TestOptions.ConsoleOutput;
        o.Configuration = hook.TestOptions.Configuration;
        hook.builder.TrySetResult(appHostBuilder);
        return hook.app.Task.GetAwaiter().GetResult();
    }

    public void Release(DistributedApplication application) => app.TrySetResult(application);
}
