using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision;
using Pipeline.Distributed;
using Pipeline.Training;
using static TorchSharp.torch;

namespace Pipeline.Bench;

/// <summary>
/// `engine`: training steps of the same models in our engine (TorchSharp) and in PyTorch, same shapes, optimizer,
/// thread count and allocator settings, interleaved round by round so that machine noise hits both alike.
/// </summary>
internal static class EngineBenchmark
{
    private sealed record Case(string Name, Func<nn.Module<Tensor, Tensor>> Model, long[] InputShape, int Warmup, int Steps);

    public static int Run(string[] args)
    {
        var device = CPU;
        var rounds = 3;
        var memoryOnly = false;
        for (var k = 0; k < args.Length; k++)
        {
            if (args[k] == "--device" && k + 1 < args.Length) device = TrainingDevice.Parse(args[++k]);
            else if (args[k] == "--memory") memoryOnly = true;
            else rounds = int.Parse(args[k], CultureInfo.InvariantCulture);
        }
        if (memoryOnly)
        {
            Console.WriteLine(MemoryStability());
            return 0;
        }
        var threads = get_num_threads();
        Console.WriteLine($"engine: libtorch {__version__} on {device}, {threads} intra-op threads, {NativeAllocator.Current} allocator, {rounds} interleaved rounds, median ms per training step");
        Case[] cases =
        [
            new("small_cnn", () => new BenchSmallCnn(), [128, 1, 28, 28], 5, 30),
            new("resnet18", () => new BenchResNet18(), [64, 3, 32, 32], 2, 6),
        ];
        // Memory first, in a heap that the larger cases have not yet grown.
        List<string> lines = device == CPU ? [MemoryStability()] : [];
        foreach (var c in cases)
        {
            var ours = new List<double>();
            var peer = new List<double>();
            for (var r = 0; r < rounds; r++)
            {
                ours.Add(TimeOurs(c, device));
                peer.Add(PeerProcess.RunPython("engine_bench.py", "ms_per_step", threads, c.Name,
                    c.Warmup.ToString(CultureInfo.InvariantCulture), c.Steps.ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture), device.ToString()));
                Console.WriteLine($"  {c.Name} round {r + 1}: ours {ours[^1]:F2} ms, pytorch {peer[^1]:F2} ms");
            }
            var o = Median(ours);
            var p = Median(peer);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{c.Name} ours_ms={o:F2} pytorch_ms={p:F2} ratio={o / p:F3}"));
        }
        foreach (var line in lines) Console.WriteLine(line);
        return 0;
    }

    private static double TimeOurs(Case c, Device device)
    {
        manual_seed(0);
        using var model = c.Model();
        model.to(device);
        model.train();
        using var x = randn(c.InputShape, device: device);
        using var y = randint(0, 10, [c.InputShape[0]], device: device);
        using var optimizer = optim.SGD(model.parameters(), 0.01, momentum: 0.9, weight_decay: 5e-4);
        for (var k = 0; k < c.Warmup; k++) Step(model, optimizer, x, y);
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        for (var k = 0; k < c.Steps; k++) Step(model, optimizer, x, y);
        Synchronize(device);
        return watch.Elapsed.TotalMilliseconds / c.Steps;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>One training step, its temporaries freed: what every engine benchmark times.</summary>
    internal static void Step(nn.Module<Tensor, Tensor> model, TorchSharp.Modules.OptimizerHelper optimizer, Tensor x, Tensor y,
        DistributedDataParallel? ddp = null)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        ddp?.SynchronizeGradients();
        optimizer.step();
    }

    /// <summary>
    /// Small-CNN steps: resident memory at the end of the warm-up and 2,000 steps later should barely differ. The warm-up
    /// lasts until .NET's first gen-0 collection (at least 200 steps): until then each step's few KiB of managed
    /// wrappers land on fresh pages of the gen-0 budget, which later steps reuse.
    /// </summary>
    private static string MemoryStability()
    {
        const int measured = 2000, minimumWarmup = 200;
        manual_seed(0);
        using var model = new BenchSmallCnn();
        model.train();
        using var x = randn(128, 1, 28, 28);
        using var y = randint(0, 10, [128]);
        using var optimizer = optim.SGD(model.parameters(), 0.01, momentum: 0.9, weight_decay: 5e-4);
        var watch = Stopwatch.StartNew();
        double rssStep200 = 0, rssWarm = 0;
        var warmupSteps = 0;
        for (var k = 1; warmupSteps == 0 || k <= warmupSteps + measured; k++)
        {
            Step(model, optimizer, x, y);
            if (k == minimumWarmup) rssStep200 = PeerProcess.ResidentMemoryMiB();
            if (warmupSteps == 0 && k >= minimumWarmup && GC.CollectionCount(0) > 0)
            {
                warmupSteps = k;
                rssWarm = PeerProcess.ResidentMemoryMiB();
            }
            if (k % 250 == 0)
                Console.WriteLine($"  memory: step {k}, rss {PeerProcess.ResidentMemoryMiB():F1} MiB, {GC.GetTotalAllocatedBytes() / 1048576.0:F0} MiB managed allocated, {GC.CollectionCount(0)} gen0 collections, live tensors {DisposeScopeManager.Statistics.ThreadTotalLiveCount}, {watch.Elapsed.TotalSeconds:F0} s");
        }
        var rssEnd = PeerProcess.ResidentMemoryMiB();
        return string.Create(CultureInfo.InvariantCulture,
            $"memory allocator={NativeAllocator.Current} warmup_steps={warmupSteps} rss_step200_mib={rssStep200:F1} rss_warm_mib={rssWarm:F1} rss_after_{measured}_mib={rssEnd:F1} growth_pct={(rssEnd - rssWarm) / rssWarm * 100:F2}");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
