using System.Diagnostics;
using System.Globalization;
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
        var started = DateTime.UtcNow;
        var run = await RunningAppHost.StartAsync(repo, runDir);
        log.WriteLine($"dotnet run to all healthy: {(DateTime.UtcNow - started).TotalSeconds:0} s");
        return run;
    }
}
