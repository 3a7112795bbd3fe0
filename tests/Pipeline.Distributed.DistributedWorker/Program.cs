using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pipeline.Distributed;
using TorchSharp;
using static TorchSharp.torch;

// One rank. Modes:
//   collectives                      every op and dtype; prints key=value lines
//   train --steps N --global-batch B [--bucket-bytes N] --out FILE   SGD on a small float64 CNN, each rank its share of
//                                    every batch; writes the initial weights, the first step's gradients and the final
//                                    weights (FILE.init, FILE.grad, FILE) as raw float64
//   hold                             collectives every 50 ms until one fails; prints error=, lost=, failed_after_ms=
// Common: --rank R --world W --port P [--timeout-ms T]
var opts = Args.Parse(args);
torch.set_num_threads(1);
var options = new ProcessGroupOptions("127.0.0.1", opts.Int("port"), opts.Int("rank"), opts.Int("world"),
    TimeSpan.FromMilliseconds(opts.Int("timeout-ms", 30_000)), BindHost: "127.0.0.1");
try
{
    using var group = ProcessGroup.Join(options);
    Console.WriteLine($"rank={group.Rank}/{group.WorldSize}");
    Console.WriteLine($"gloo_library={ProcessGroup.GlooLibrary}");
    switch (opts.Mode)
    {
        case "collectives": Modes.Collectives(group); break;
        case "train": Modes.Train(group, opts); break;
        case "hold": return Modes.Hold(group);
        default: throw new ArgumentException($"unknown mode {opts.Mode}");
    }
    group.Barrier();
    return 0;
}
catch (DistributedException e)
{
    Console.WriteLine($"error={e.Message.ReplaceLineEndings(" ")}");
    Console.WriteLine($"lost={string.Join(",", e.LostRanks)}");
    return 3;
}

internal static class Modes
{
    private static string Show(Tensor t) => string.Join(",", t.to_type(ScalarType.Float64).data<double>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    public static void Collectives(ProcessGroup group)
    {
        var r = group.Rank;
        foreach (var (op, name) in new[] { (ReduceOp.Sum, "SUM"), (ReduceOp.Avg, "AVG"), (ReduceOp.Max, "MAX"), (ReduceOp.Min, "MIN") })
        {
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.BFloat16 })
            {
                // rank r contributes [r+1, 10(r+1), r-5]
                using var t = tensor(new double[] { r + 1, 10 * (r + 1), r - 5 }).to_type(dtype);
                group.AllReduce(t, op);
                Console.WriteLine($"all_reduce_{name}_{dtype}={Show(t)}");
            }
        }
        using (var big = tensor(new long[] { r + 1, (1L << 60) * r + 1 }))
        {
            group.AllReduce(big, ReduceOp.Sum);
            Console.WriteLine($"all_reduce_int64={string.Join(",", big.data<long>().ToArray())}");
        }
        try
        {
            using var ints = tensor(new long[] { 1 });
            group.AllReduce(ints, ReduceOp.Avg);
            Console.WriteLine("avg_int64=accepted");
        }
        catch (DistributedException e)
        {
            Console.WriteLine($"avg_int64={e.Message}");
        }
        // A view into the middle of a larger tensor: the buffer starts at its storage offset.
        using (var whole = full(new long[] { 4, 3 }, r * 100.0, dtype: ScalarType.Float64))
        using (var row = whole[2])
        {
            group.Broadcast(row, root: group.WorldSize - 1);
            Console.WriteLine($"broadcast_view={Show(whole.flatten())}");
        }
        using (var large = arange(1_000_000, dtype: ScalarType.Float32).mul_(r + 1))
        {
            group.AllReduce(large, ReduceOp.Sum);
            Console.WriteLine($"all_reduce_large={large[999_999].ToSingle().ToString("R", CultureInfo.InvariantCulture)}");
        }
        group.Barrier();
        Console.WriteLine("barrier=ok");
        group.StoreSet($"hello/{r}", Encoding.UTF8.GetBytes($"from {r}"));
        Console.WriteLine($"store={group.StoreGetString($"hello/{(r + 1) % group.WorldSize}")}");
        Console.WriteLine($"store_add={group.StoreAdd("counter", r + 1)}");
    }

    // A small CNN: conv, batch norm (a buffer to broadcast), linear; float64 so that the comparison is exact enough.
    private static nn.Module<Tensor, Tensor> Model() => nn.Sequential(
        nn.Conv2d(1, 4, 3, dtype: ScalarType.Float64),
        nn.BatchNorm2d(4, dtype: ScalarType.Float64),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3, dtype: ScalarType.Float64));

    public static void Train(ProcessGroup group, Args opts)
    {
        var steps = opts.Int("steps");
        var globalBatch = opts.Int("global-batch");
        var share = globalBatch / group.WorldSize;
        // Every rank draws the same data; the weights start different on purpose (the broadcast must fix that).
        manual_seed(7);
        using var inputs = randn(steps * globalBatch, 1, 8, 8, dtype: ScalarType.Float64);
        using var labels = randint(0, 3, steps * globalBatch);
        manual_seed(1000 + group.Rank);
        var model = Model();
        // Batch norm's running statistics would be per-rank data: eval-mode normalisation keeps the model a pure
        // function of its parameters, as in PyTorch DDP tests with SyncBatchNorm off.
        using (no_grad()) foreach (var b in model.buffers()) b.add_(group.Rank);
        Console.WriteLine($"before_sum={Sum(model.parameters()).ToString("R", CultureInfo.InvariantCulture)}");
        using var ddp = new DistributedDataParallel(model, group, opts.Int("bucket-bytes", 25 * 1024 * 1024));
        Console.WriteLine($"buckets={ddp.BucketCount}");
        var outFile = opts.Str("out");
        Write(outFile + ".init", model.parameters().Concat(model.buffers()));
        var optimizer = optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        model.eval();
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var first = step * globalBatch + group.Rank * share;
            var x = inputs.narrow(0, first, share);
            var y = labels.narrow(0, first, share);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            ddp.SynchronizeGradients();
            if (step == 0) Write(outFile + ".grad", model.parameters().Select(p => p.grad!));
            optimizer.step();
        }
        Write(outFile, model.parameters().Concat(model.buffers()));
        Console.WriteLine("trained=ok");
    }

    private static double Sum(IEnumerable<Tensor> tensors) => tensors.Sum(t => t.to_type(ScalarType.Float64).sum().ToDouble());

    private static void Write(string path, IEnumerable<Tensor> tensors)
    {
        using var file = File.Create(path);
        foreach (var t in tensors)
        {
            var values = t.detach().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    public static int Hold(ProcessGroup group)
    {
        using var t = ones(1000);
        group.AllReduce(t);
        Console.WriteLine("ready");
        var last = Stopwatch.StartNew();
        try
        {
            for (; ; )
            {
                Thread.Sleep(50);
                group.AllReduce(t);
                group.Barrier();
                last.Restart();
            }
        }
        catch (DistributedException e)
        {
            Console.WriteLine($"failed_after_ms={last.ElapsedMilliseconds}");
            Console.WriteLine($"error={e.Message.ReplaceLineEndings(" ")}");
            Console.WriteLine($"lost={string.Join(",", e.LostRanks)}");
            return 3;
        }
    }
}

internal sealed class Args
{
    private readonly Dictionary<string, string> values = [];
    public string Mode { get; private init; } = "";

    public static Args Parse(string[] args)
    {
        var a = new Args { Mode = args.Length > 0 ? args[0] : "" };
        for (var i = 1; i + 1 < args.Length; i += 2) a.values[args[i].TrimStart('-')] = args[i + 1];
        return a;
    }

    public int Int(string key, int? fallback = null) =>
        values.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback ?? throw new ArgumentException($"--{key} is required");

    public string Str(string key) => values.TryGetValue(key, out var v) ? v : throw new ArgumentException($"--{key} is required");
}
