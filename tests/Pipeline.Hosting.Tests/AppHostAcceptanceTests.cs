using System.Diagnostics;
using System.Reflection;

namespace Pipeline.Hosting.Tests;

/// <summary>AppHost acceptance 1: `dotnet run --project AppHost` brings every resource to healthy and prints the
/// dashboard's login link (with its token) and the CLI's settings, and Ctrl+C (SIGINT to its process group, as a
/// terminal sends it) ends it with nothing left behind.</summary>
public sealed class AppHostAcceptanceTests
{
    [Fact]
    public async Task Dotnet_run_reaches_healthy_and_ctrl_c_leaves_no_process_behind()
    {
        var repo = new DistributedApplicationOptions().AppDirectory;
        var runDir = Path.Combine(Path.GetTempPath(), "pipeline-tests", "apphost-" + Guid.NewGuid().ToString("N")[..8]);
        var configuration = typeof(AppHostAcceptanceTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        // --no-build: the test build already built AppHost (a project reference) in this configuration.
        var psi = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = repo,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in (string[])["dotnet", "run", "--project", "AppHost", "--no-build", "-c", configuration, "--", "--data-dir", runDir])
        {
            psi.ArgumentList.Add(a);
        }
        using var apphost = Process.Start(psi)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var healthy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clientSettings = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        apphost.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            output.Enqueue(e.Data);
            if (e.Data.StartsWith("All resources are healthy.", StringComparison.Ordinal))
            {
                healthy.TrySetResult();
            }
            if (e.Data.StartsWith("PIPELINE_API_KEY=", StringComparison.Ordinal))
            {
                clientSettings.TrySetResult();
            }
        };
        apphost.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        apphost.BeginOutputReadLine();
        apphost.BeginErrorReadLine();

        try
        {
            // The AppHost builds each service first (an up-to-date check takes a minute each on 2 busy cores).
            await Task.WhenAny(healthy.Task, apphost.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(6)));
            Assert.True(healthy.Task.IsCompleted, "no healthy line:\n" + string.Join('\n', output));
            await clientSettings.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var printed = string.Join('\n', output);
            foreach (var resource in (string[])["rabbitmq", "storage", "blobs", "prometheus", "ingest", "preprocess", "trainer-0", "trainer-1", "evaluator"])
            {
                Assert.Contains(resource, printed, StringComparison.Ordinal);
            }
            Assert.Matches(@"(?m)^PIPELINE_URL=http://127\.0\.0\.1:\d+/?$", printed);
            Assert.NotEmpty(ProcessScan.Find(runDir));

            // The printed dashboard link, with its token, logs a browser in; the dashboard without it answers 401.
            var login = Assert.Single(output, l => l.StartsWith("Dashboard: ", StringComparison.Ordinal))["Dashboard: ".Length..];
            Assert.Matches(@"^http://127\.0\.0\.1:\d+/login\?t=[0-9a-f]{48}$", login);
            using (var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }))
            {
                using var denied = await browser.GetAsync(new Uri(new Uri(login), "/api/resources"));
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, denied.StatusCode);
                using var loggedIn = await browser.GetAsync(new Uri(login));
                Assert.Equal(System.Net.HttpStatusCode.Redirect, loggedIn.StatusCode);
                Assert.Contains(loggedIn.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
            }

            using (var ctrlC = Process.Start("kill", ["-INT", "--", "-" + apphost.Id]))
            {
                await ctrlC.WaitForExitAsync();
            }
            await apphost.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(apphost.ExitCode == 0, $"exit code {apphost.ExitCode}:\n" + string.Join('\n', output));
            Assert.Contains("Stopped.", output);
            // By run folder (every resource's command line or environment), and by RabbitMQ's node name (beam, epmd).
            var nodeName = RabbitMQServerResource.NodeName(Path.Combine(runDir, "rabbitmq"));
            Assert.Empty(await ProcessScan.RemainingAsync(runDir, nodeName));
        }
        finally
        {
            if (!apphost.HasExited)
            {
                apphost.Kill(entireProcessTree: true);
            }
            Directory.Delete(runDir, recursive: true);
        }
    }
}
