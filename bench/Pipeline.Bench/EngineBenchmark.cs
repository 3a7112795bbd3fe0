using System.Diagnostics;
using System.Globalization;
using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Bench;

/// <summary>
/// `engine`: training steps of the same models in our engine and in PyTorch, same shapes, optimizer, thread
/// count and allocator settings, interleaved round by round so that machine noise hits all alike. TorchSharp's step
/// (bench/Pipeline.Bench.TorchSharp, CPU) runs in its own process: one process never loads two libtorch builds.
/// </summary>
internal static class EngineBenchmark
{
    private sealed record Case(string Name, Func<nn.Module<Tensor, Tensor>> Model, long[] InputShape, int Warmup, int Steps);

    public static int Run(string[] args)
    {
        var device = Device.CPU;
        var rounds = 3;
        for (var k = 0; k < args.Length; k++)
        {
            if (args[k] == "--device" && k + 1 < args.Length) device = Device.Parse(args[++k]);
            else rounds = int.Parse(args[k], CultureInfo.InvariantCulture);
        }
        var threads = get_num_threads();
        Console.WriteLine($"engine: libtorch {version} on {device}, {threads} intra-op threads, {rounds} interleaved rounds, median ms per training step");
        Case[] cases =
        [
            new("small_cnn", () => new BenchSmallCnn(), [128, 1, 28, 28], 5, 30),
            new("resnet18", () => new BenchResNet18(), [64, 3, 32, 32], 2, 6),
        ];
        var lines = new List<string>();
        foreach (var c in cases)
        {
            var ours = new List<double>();
            var sharp = new List<double>();
            var peer = new List<double>();
            for (var r = 0; r < rounds; r++)
            {
                ours.Add(TimeOurs(c, device));
                if (device == Device.CPU)
                    sharp.Add(PeerProcess.RunTorchSharp(["ms_per_step"], threads, c.Name,
                        c.Warmup.ToString(CultureInfo.InvariantCulture), c.Steps.ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture))[0]);
                peer.Add(PeerProcess.RunPython("engine_bench.py", "ms_per_step", threads, c.Name,
                    c.Warmup.ToString(CultureInfo.InvariantCulture), c.Steps.ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture), device.ToString()));
                var sharpText = sharp.Count > r ? $", torchsharp {sharp[^1]:F2} ms" : "";
                Console.WriteLine($"  {c.Name} round {r + 1}: ours {ours[^1]:F2} ms{sharpText}, pytorch {peer[^1]:F2} ms");
            }
            var o = Median(ours);
            var p = Median(peer);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{c.Name} ours_ms={o:F2} pytorch_ms={p:F2} ratio={o / p:F3}"));
            if (sharp.Count > 0)
            {
                var t = Median(sharp);
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{c.Name} torchsharp_ms={t:F2} pytorch_ms={p:F2} ratio={t / p:F3}"));
            }
        }
        if (device == Device.CPU)
        {
            lines.Add(MemoryStability());
            lines.Add(TorchSharpMemoryStability(threads));
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
        using var optimizer = new optim.SGD(model.parameters(), lr: 0.01, momentum: 0.9, weight_decay: 5e-4);
        for (var k = 0; k < c.Warmup; k++) Step(model, optimizer, x, y);
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        for (var k = 0; k < c.Steps; k++) Step(model, optimizer, x, y);
        Synchronize(device);
        return watch.Elapsed.TotalMilliseconds / c.Steps;
    }

    private static void Synchronize(Device device)
    {
        if (device.Type == DeviceType.CUDA) cuda.synchronize(device.Index);
    }

    /// <summary>One training step, its temporaries freed: what every engine benchmark times.</summary>
    internal static void Step(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        optimizer.step();
    }

    /// <summary>2,000 small-CNN steps: resident memory after step 200 and after step 2,000 should barely differ.</summary>
    private static string MemoryStability()
    {
        const int total = 2000, early = 200;
        manual_seed(0);
        using var model = new BenchSmallCnn();
        model.train();
        using var x = randn(128, 1, 28, 28);
        using var y = randint(0, 10, [128]);
        using var optimizer = new optim.SGD(model.parameters(), lr: 0.01, momentum: 0.9, weight_decay: 5e-4);
        double rssEarly = 0;
        var watch = Stopwatch.StartNew();
        for (var k = 1; k <= total; k++)
        {
            Step(model, optimizer, x, y);
            if (k == early) rssEarly = PeerProcess.ResidentMemoryMiB();
            if (k % 500 == 0) Console.WriteLine($"  memory: step {k}, rss {PeerProcess.ResidentMemoryMiB():F1} MiB, {watch.Elapsed.TotalSeconds:F0} s");
        }
        var rssLate = PeerProcess.ResidentMemoryMiB();
        return string.Create(CultureInfo.InvariantCulture,
            $"memory rss_step200_mib={rssEarly:F1} rss_step2000_mib={rssLate:F1} growth_pct={(rssLate - rssEarly) / rssEarly * 100:F2}");
    }

    /// <summary>The same 2,000 small-CNN steps in TorchSharp's process.</summary>
    private static string TorchSharpMemoryStability(int threads)
    {
        var rss = PeerProcess.RunTorchSharp(["rss_step200_mib", "rss_step2000_mib"], threads, "memory", threads.ToString(CultureInfo.InvariantCulture));
        var (early, late) = (rss[0], rss[1]);
        return string.Create(CultureInfo.InvariantCulture,
            $"torchsharp memory rss_step200_mib={early:F1} rss_step2000_mib={late:F1} growth_pct={(late - early) / early * 100:F2}");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
