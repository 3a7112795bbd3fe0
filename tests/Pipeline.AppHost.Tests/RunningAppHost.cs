using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Pipeline.AppHost.Hosting;
using Pipeline.Tests.Support;
using Xunit.Abstractions;

namespace Pipeline.AppHost.Tests;

/// <summary><c>dotnet run --project AppHost -- --data-dir DIR [settings]</c> as a user runs it, with what it prints; the
/// acceptance tests start it, kill it, stop it as Ctrl+C does and start it again on the same folder; the dashboard's
/// browser test logs in with the link it prints.</summary>
internal sealed partial class RunningAppHost : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> output = new();

    private RunningAppHost(Process process)
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

    /// <summary>The repository this test build belongs to (where <c>dotnet run --project AppHost</c> runs).</summary>
    public static string Repository => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));

    public Process Process { get; }
    public TaskCompletionSource Healthy { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public string Text => string.Join('\n', output);

    /// <summary>The ingest API's address, as printed for the CLI.</summary>
    public Uri PipelineUrl
    {
        get
        {
            var printed = Regex.Match(Text, @"(?m)^PIPELINE_URL=(\S+)$");
            Assert.True(printed.Success, "no PIPELINE_URL line:\n" + Text);
            return new Uri(printed.Groups[1].Value);
        }
    }

    /// <summary>Starts the AppHost on <paramref name="runDir"/> with <paramref name="settings"/> (<c>--NAME=value</c>) and
    /// waits for its all-healthy line.</summary>
    public static async Task<RunningAppHost> StartAsync(ITestOutputHelper log, string runDir, params string[] settings)
    {
        var configuration = typeof(RunningAppHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        // setsid: a process group of its own, as a terminal gives a command. --no-build: the test build built the AppHost.
        // --no-launch-profile with the profile's settings on free ports: the profile's fixed dashboard ports may be taken
        // by another run on this machine.
        var psi = new ProcessStartInfo("setsid") { WorkingDirectory = Repository, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in (string[])["dotnet", "run", "--project", "AppHost", "--no-build", "--no-launch-profile", "-c", configuration, "--", "--data-dir", runDir, .. settings])
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
        if (!run.Healthy.Task.IsCompleted)
        {
            await run.DisposeAsync();
            Assert.Fail("no healthy line:\n" + run.Text);
        }
        log.WriteLine($"dotnet run to all healthy: {(DateTime.UtcNow - started).TotalSeconds:0} s");
        return run;
    }

    /// <summary>The dashboard's login link, as printed.</summary>
    public Uri DashboardLogin => LoginLine().Match(Text) is { Success: true } m ? new Uri(m.Groups[1].Value) : throw new InvalidOperationException("no login link:\n" + Text);

    /// <summary>A <c>NAME=value</c> line the AppHost printed (PIPELINE_URL, PIPELINE_API_KEY).</summary>
    public string Printed(string name) =>
        output.LastOrDefault(l => l.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..] ?? throw new InvalidOperationException($"no {name}=:\n" + Text);

    /// <summary>The replicas of a resource by the names the AppHost printed for them (<c>trainer-abcd1234: Running</c>).</summary>
    public IReadOnlyList<string> Replicas(string resource) =>
        [.. output.Select(l => Regex.Match(l, $"^({Regex.Escape(resource)}-[a-z0-9]+): ")).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal)];

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

    /// <summary>kill -9 of the AppHost, as an out-of-memory kill or a crash ends it; returns once <c>dotnet run</c> has
    /// exited and DCP has stopped every process the run had (what is still alive after two minutes is returned).</summary>
    public async Task<List<string>> KillAsync()
    {
        var processes = ProcessesOfTheRun();
        Signal("-KILL", AppHostPid.ToString(CultureInfo.InvariantCulture));
        await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        // DCP notices that the process it monitors is gone and stops every resource gracefully (SIGTERM, then SIGKILL
        // after its own timeout): that takes it a while, so the grace is generous.
        return await ProcessTree.SurvivorsAsync(processes.Keys, TimeSpan.FromMinutes(2));
    }

    /// <summary>Ctrl+C as a terminal sends it (SIGINT to the process group); waits until every process of the run is gone.</summary>
    public async Task StopAsync()
    {
        var processes = ProcessesOfTheRun();
        using (var interrupt = Process.Start("kill", ["-INT", "--", "-" + Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync();
        }
        await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var left = await ProcessTree.SurvivorsAsync(processes.Keys, TimeSpan.FromMinutes(2));
        Assert.True(left.Count == 0, "left after Ctrl+C:\n" + string.Join('\n', left));
    }

    public static void Signal(params string[] args)
    {
        using var kill = Process.Start("kill", args);
        kill.WaitForExit();
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

    [GeneratedRegex(@"Login to the dashboard at (http://127\.0\.0\.1:\d+/login\?t=[0-9a-f]+)")]
    private static partial Regex LoginLine();
}
