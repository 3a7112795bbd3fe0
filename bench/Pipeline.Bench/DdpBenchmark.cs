using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Training.Distributed;
using Pipeline.Vision;
using Pipeline.Distributed;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// `ddp`: the small CNN (batch 128 per process, SGD) trained for the same number of samples by 1 process and by
/// 2 data-parallel processes (Gloo, 1 intra-op thread each), interleaved round by round, ours and PyTorch's
/// DistributedDataParallel (Peers/ddp_bench.py) alike, so that what the machine allows is seen beside what we get.
/// Each run is a fresh OS process per rank (`ddp-worker`, or the peer script); a run times its own training loop
/// between two barriers, after warm-up.
/// </summary>
internal static class DdpBenchmark
{
    private const int Batch = 128;
    // Steps before the clock starts, for both engines: enough for .NET's tiered JIT to finish promoting the hot
    // methods, whose background compilation would otherwise take CPU from the other rank in the timed loop.
    private const int WarmupSteps = 50;

    public static int Run(string[] args)
    {
        var rounds = 5;
        var steps = 60; // per process in the 2-process run; the 1-process run does twice as many
        for (var k = 0; k < args.Length; k++)
        {
            if (args[k] == "--steps" && k + 1 < args.Length) steps = int.Parse(args[++k], CultureInfo.InvariantCulture);
            else rounds = int.Parse(args[k], CultureInfo.InvariantCulture);
        }
        Console.WriteLine($"ddp: small CNN, batch {Batch} per process, {2 * steps * Batch} samples per run, 1 intra-op thread per process, {rounds} interleaved rounds");
        var ours = new Scaling();
        var torch = new Scaling();
        for (var r = 0; r < rounds; r++)
        {
            ours.Add(Launch(1, 2 * steps, Ours), Launch(2, steps, Ours));
            torch.Add(Launch(1, 2 * steps, PyTorch), Launch(2, steps, PyTorch));
            // Other load on the machine skews a 2-process run most: show it beside each round.
            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {r + 1}: ours 1 process {ours.Single[^1]:F0} ms, 2 processes {ours.Pair[^1]:F0} ms; pytorch {torch.Single[^1]:F0} ms, {torch.Pair[^1]:F0} ms (load average {load})"));
        }
        // CPU time of the training loops summed over ranks: what data parallelism costs in work, whatever else runs.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ddp cpu_ms_1proc={Median(ours.SingleCpu):F0} cpu_ms_2proc={Median(ours.PairCpu):F0} cpu_overhead_pct={ours.CpuOverheadPct:F1} pytorch_cpu_overhead_pct={torch.CpuOverheadPct:F1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ddp pytorch procs=2 speedup={torch.Speedup:F3} efficiency={torch.Speedup / 2:F3} ms_per_sample_1proc ours/pytorch={Median(ours.Single) / Median(torch.Single):F2}"));
        // Medians are the figures; the best round shows what a run untouched by other load gets.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ddp best round: ours efficiency={ours.Single.Min() / ours.Pair.Min() / 2:F3}, pytorch efficiency={torch.Single.Min() / torch.Pair.Min() / 2:F3}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ddp procs=2 speedup={ours.Speedup:F3} efficiency={ours.Speedup / 2:F3}"));
        return 0;
    }

    /// <summary>Rank 0's training time and the ranks' CPU time of each 1-process and 2-process run.</summary>
    private sealed class Scaling
    {
        public List<double> Single { get; } = [];
        public List<double> Pair { get; } = [];
        public List<double> SingleCpu { get; } = [];
        public List<double> PairCpu { get; } = [];

        public void Add((double wall, double cpu) single, (double wall, double cpu) pair)
        {
            Single.Add(single.wall);
            SingleCpu.Add(single.cpu);
            Pair.Add(pair.wall);
            PairCpu.Add(pair.cpu);
        }

        public double Speedup => Median(Single) / Median(Pair);
        public double CpuOverheadPct => (Median(PairCpu) / Median(SingleCpu) - 1) * 100;
    }

    private static ProcessStartInfo Ours(string[] rank)
    {
        var psi = SelfStartInfo();
        psi.ArgumentList.Add("ddp-worker");
        foreach (var a in rank) psi.ArgumentList.Add(a);
        psi.Environment["PIPELINE_TORCH_THREADS"] = "1";
        return psi;
    }

    private static ProcessStartInfo PyTorch(string[] rank)
    {
        var psi = new ProcessStartInfo(PeerProcess.Python) { UseShellExecute = false, WorkingDirectory = Path.Combine(AppContext.BaseDirectory, "Peers") };
        psi.ArgumentList.Add("ddp_bench.py");
        foreach (var a in rank) psi.ArgumentList.Add(a);
        foreach (var (k, v) in PeerProcess.AllocatorEnvironment) psi.Environment[k] = v;
        psi.Environment["OMP_NUM_THREADS"] = "1";
        return psi;
    }

    /// <summary>Starts <paramref name="world"/> ranks; returns rank 0's training time and the ranks' CPU time in ms.</summary>
    private static (double wall, double cpu) Launch(int world, int steps, Func<string[], ProcessStartInfo> startInfo)
    {
        var port = DistributedSettings.FreePort();
        var processes = new List<Process>();
        try
        {
            for (var rank = 0; rank < world; rank++)
            {
                var psi = startInfo([rank.ToString(CultureInfo.InvariantCulture), world.ToString(CultureInfo.InvariantCulture),
                    port.ToString(CultureInfo.InvariantCulture), steps.ToString(CultureInfo.InvariantCulture), WarmupSteps.ToString(CultureInfo.InvariantCulture)]);
                psi.RedirectStandardOutput = true;
                psi.RedirectStandardError = true;
                processes.Add(Process.Start(psi) ?? throw new InvalidOperationException("cannot start a ddp worker"));
            }
            var errors = processes.Select(p => p.StandardError.ReadToEndAsync()).ToArray();
            var outputs = processes.Select(p => p.StandardOutput.ReadToEndAsync()).ToArray();
            foreach (var p in processes)
            {
                if (!p.WaitForExit(TimeSpan.FromMinutes(5))) throw new TimeoutException("a ddp worker did not finish in 5 minutes");
            }
            for (var k = 0; k < processes.Count; k++)
                if (processes[k].ExitCode != 0) throw new InvalidOperationException($"ddp worker {k} failed ({processes[k].ExitCode}): {errors[k].Result}");
            return (Figure(outputs[0].Result, "elapsed_ms"), outputs.Sum(o => Figure(o.Result, "cpu_ms")));
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }

    private static double Figure(string output, string key)
    {
        foreach (var token in output.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
            if (token.StartsWith(key + "=", StringComparison.Ordinal)) return double.Parse(token.AsSpan(key.Length + 1), CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"ddp worker printed no {key}=: {output}");
    }

    /// <summary>One rank: `ddp-worker RANK WORLD PORT STEPS WARMUP`.</summary>
    public static int Worker(string[] args)
    {
        var rank = int.Parse(args[0], CultureInfo.InvariantCulture);
        var world = int.Parse(args[1], CultureInfo.InvariantCulture);
        var port = int.Parse(args[2], CultureInfo.InvariantCulture);
        var steps = int.Parse(args[3], CultureInfo.InvariantCulture);
        var warmup = int.Parse(args[4], CultureInfo.InvariantCulture);
        manual_seed(rank);
        using var net = new BenchSmallCnn();
        net.train();
        using var pg = world > 1
            ? ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", port, rank, world, TimeSpan.FromMinutes(2), BindHost: "127.0.0.1"))
            : null;
        using var ddp = pg is null ? null : new DistributedDataParallel(net, pg);
        using var x = randn(Batch, 1, 28, 28);
        using var y = randint(0, 10, [Batch]);
        using var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9, weight_decay: 5e-4);
        for (var k = 0; k < warmup; k++) EngineBenchmark.Step(net, optimizer, x, y, ddp);
        pg?.Barrier();
        using var self = Process.GetCurrentProcess();
        var cpuStart = self.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (var k = 0; k < steps; k++) EngineBenchmark.Step(net, optimizer, x, y, ddp);
        pg?.Barrier();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        self.Refresh();
        var cpu = (self.TotalProcessorTime - cpuStart).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"elapsed_ms={elapsed:F1} cpu_ms={cpu:F1}"));
        return 0;
    }

    private static ProcessStartInfo SelfStartInfo()
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var psi = new ProcessStartInfo(host) { UseShellExecute = false };
        // Under `dotnet Pipeline.Bench.dll` the host is dotnet itself: pass the assembly on.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        return psi;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
