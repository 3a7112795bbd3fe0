using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Pipeline.AppHost.Hosting;
using Pipeline.Tests.Support;
using Xunit.Abstractions;

namespace Pipeline.AppHost.Tests;

/// <summary>`dotnet run --project AppHost` as a user runs it: every resource reaches healthy, the dashboard's login link
/// and the CLI's settings are printed; kill -9 of the AppHost leaves no process of the run (DCP stops everything when
/// the process it monitors dies); the same run folder starts again; Ctrl+C (SIGINT to the process group, as a terminal
/// sends it) ends it with nothing left behind.</summary>
public sealed class AppHostAcceptanceTests(ITestOutputHelper log)
{
    /// <summary>Every kind of process a run has: DCP, the dashboard, the broker and its epmd, Azurite, Prometheus, services.</summary>
    private static readonly string[] Kinds =
        ["tools/dcp ", "Aspire.Dashboard", "epmd -port", "beam.smp", "azurite-blob", "/usr/bin/prometheus",
         "Pipeline.Ingest", "Pipeline.Preprocess", "Pipeline.Trainer", "Pipeline.Evaluator"];

    [Fact]
    public async Task Dotnet_run_reaches_healthy_and_neither_kill_9_of_the_AppHost_nor_ctrl_c_leaves_a_process_behind()
    {
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var runDir = Path.Combine(Path.GetTempPath(), "pipeline-tests", "apphost-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            // First run: healthy, then the AppHost is killed with SIGKILL.
            await using (var first = await Started(repo, runDir))
            {
                var printed = first.Text;
                Assert.Matches(@"(?m)^PIPELINE_URL=http://localhost:\d+/?$", printed);
                Assert.Matches(@"(?m)^PIPELINE_API_KEY=[0-9a-f]{32}$", printed);
                var login = System.Text.RegularExpressions.Regex.Match(printed, @"Login to the dashboard at (http://127\.0\.0\.1:\d+/login\?t=[0-9a-f]+)");
                Assert.True(login.Success, printed);
                using (var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }))
                {
                    using var loggedIn = await browser.GetAsync(new Uri(login.Groups[1].Value));
                    Assert.Equal(System.Net.HttpStatusCode.Redirect, loggedIn.StatusCode);
                    Assert.Contains(loggedIn.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
                }
                var processes = first.ProcessesOfTheRun();
                AssertEveryKind(processes);
                Signal("-KILL", first.AppHostPid.ToString(CultureInfo.InvariantCulture));
                var killed = DateTime.UtcNow;
                await first.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
                // DCP notices that the process it monitors is gone and stops every resource gracefully (SIGTERM, then
                // SIGKILL after its own timeout): that takes it a while, so the grace here is generous.
                var left = await ProcessTree.SurvivorsAsync(processes.Keys, TimeSpan.FromMinutes(2));
                log.WriteLine($"after kill -9 of the AppHost, DCP had stopped all {processes.Count} processes in {(DateTime.UtcNow - killed).TotalSeconds:0} s");
                Assert.True(left.Count == 0, "left after kill -9 of the AppHost:\n" + string.Join('\n', left));
            }

            // Second run on the same folder (the broker's database and credentials kept): healthy again, then Ctrl+C.
            await using (var second = await Started(repo, runDir))
            {
                var processes = second.ProcessesOfTheRun();
                AssertEveryKind(processes);
                var apphost = second.AppHostPid;
                Signal("-INT", "--", "-" + second.Process.Id.ToString(CultureInfo.InvariantCulture));
                var stopped = DateTime.UtcNow;
                await second.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Empty(await ProcessTree.SurvivorsAsync([apphost], TimeSpan.FromSeconds(60)));
                log.WriteLine($"Ctrl+C: the AppHost exited after {(DateTime.UtcNow - stopped).TotalSeconds:0} s");
                // DCP stops what is left once the AppHost is gone (as after kill -9).
                var left = await ProcessTree.SurvivorsAsync(processes.Keys, TimeSpan.FromMinutes(2));
                log.WriteLine($"Ctrl+C: all {processes.Count} processes of the run gone after {(DateTime.UtcNow - stopped).TotalSeconds:0} s");
                Assert.True(left.Count == 0, "left after Ctrl+C:\n" + string.Join('\n', left));
                Assert.Empty(ProcessTree.Mentioning(runDir));
            }
        }
        finally
        {
            if (Directory.Exists(runDir))
            {
                Directory.Delete(runDir, recursive: true);
            }
        }
    }

    private static void AssertEveryKind(Dictionary<int, string> processes)
    {
        foreach (var kind in Kinds)
        {
            Assert.True(processes.Values.Any(c => c.Contains(kind, StringComparison.Ordinal)), $"no {kind} among:\n{string.Join('\n', processes.Values)}");
        }
    }

    private static void Signal(params string[] args)
    {
        using var kill = Process.Start("kill", args);
        kill.WaitForExit();
    }

    private async Task<RunningAppHost> Started(string repo, string runDir)
    {
        var configuration = typeof(AppHostAcceptanceTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        // setsid: a process group of its own, as a terminal gives a command. --no-build: the test build built the AppHost.
        // --no-launch-profile with the profile's settings on free ports: the profile's fixed dashboard ports may be taken
        // by another run on this machine.
        var psi = new ProcessStartInfo("setsid") { WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in (string[])["dotnet", "run", "--project", "AppHost", "--no-build", "--no-launch-profile", "-c", configuration, "--", "--data-dir", runDir])
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Development";
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort.Next()}";
        psi.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{FreePort.Next()}";
        psi.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://127.0.0.1:{FreePort.Next()}";
        var started = DateTime.UtcNow;
        var run = new RunningAppHost(Process.Start(psi)!);
        await Task.WhenAny(run.Healthy.Task, run.Process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(8)));
        Assert.True(run.Healthy.Task.IsCompleted, "no healthy line:\n" + run.Text);
        log.WriteLine($"dotnet run to all healthy: {(DateTime.UtcNow - started).TotalSeconds:0} s");
        return run;
    }

    private sealed class RunningAppHost : IAsyncDisposable
    {
        private readonly ConcurrentQueue<string> output = new();

        public RunningAppHost(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }
                output.Enqueue(e.Data);
                if (e.Data.StartsWith(RunReporter.AllHealthyLine, StringComparison.Ordinal))
                {
                    Healthy.TrySetResult();
                }
            };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }
        public TaskCompletionSource Healthy { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string Text => string.Join('\n', output);

        /// <summary>The AppHost itself: the child of <c>dotnet run</c> under setsid.</summary>
        public int AppHostPid => ProcessTree.Descendants(Process.Id).Single(pid => ProcessTree.CommandLine(pid).Contains("AppHost --data-dir", StringComparison.Ordinal));

        /// <summary>Every process of the run: the AppHost's descendants, DCP (which detaches and monitors the AppHost's
        /// pid) and DCP's descendants, by pid with their command lines.</summary>
        public Dictionary<int, string> ProcessesOfTheRun()
        {
            var apphost = AppHostPid;
            var dcp = ProcessTree.All().Where(pid => ProcessTree.CommandLine(pid).Contains($"--monitor {apphost.ToString(CultureInfo.InvariantCulture)} ", StringComparison.Ordinal)).ToList();
            return ProcessTree.Descendants(Process.Id).Concat(dcp).Concat(dcp.SelectMany(ProcessTree.Descendants)).Distinct()
                .ToDictionary(pid => pid, ProcessTree.CommandLine);
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync();
            }
            Process.Dispose();
        }
    }
}
