using System.Globalization;
using Pipeline.Torch;
using Pipeline.Torch.Serialization;
using Pipeline.Torch.Tests;
using static Pipeline.Torch.torch;

// usage: <collectives|train|stall> --rank R --world N --port P [--timeout-ms T] [--steps K] [--global-batch G] [--out file.safetensors]
//        [--overlap 0|1] [--bucket-kb KB] [--accumulate M]
// Prints key=value lines on stdout; on failure prints "error: <message>" on stderr and exits with 3.
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var k = 1; k + 1 < args.Length; k += 2) options[args[k].TrimStart('-')] = args[k + 1];
int Int(string key, int fallback) => options.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

var rank = Int("rank", 0);
var world = Int("world", 1);
var port = Int("port", 29500);
var timeout = TimeSpan.FromMilliseconds(Int("timeout-ms", 30_000));
try
{
    return (args.Length > 0 ? args[0] : "") switch
    {
        "collectives" => Collectives(),
        "train" => Train(),
        "stall" => Stall(),
        _ => Usage(),
    };
}
catch (Exception e) when (e is DistributedException or TorchException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}

int Usage()
{
    Console.Error.WriteLine("usage: Pipeline.Torch.DistributedWorker <collectives|train|stall> --rank R --world N --port P [...]");
    return 2;
}

static string Values(Tensor t) => string.Join(",", t.to(float64).reshape(-1).ToArray<double>().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

void Print(string key, string value)
{
    Console.WriteLine($"{key}={value}");
    Console.Out.Flush();
}

int Collectives()
{
    using var pg = distributed.init_process_group("gloo", rank, world, "127.0.0.1", port, timeout);
    Print("rank", $"{pg.rank}/{pg.world_size}");
    var r = (double)rank;
    foreach (var op in new[] { distributed.ReduceOp.SUM, distributed.ReduceOp.AVG, distributed.ReduceOp.MAX, distributed.ReduceOp.MIN })
    {
        using var t = tensor(new[] { r + 1, 10 * (r + 1), r - 5 });
        distributed.all_reduce(t, op, pg);
        Print($"all_reduce_{op}", Values(t));
    }
    using (var ints = tensor(new long[] { rank + 1, 5 }))
    {
        distributed.all_reduce(ints, distributed.ReduceOp.SUM, pg);
        Print("all_reduce_int64", Values(ints));
    }
    using (var b = full([2, 2], 100 * r + 7, float32))
    {
        distributed.broadcast(b, world - 1, pg);
        Print("broadcast_from_last", Values(b));
    }
    using (var input = tensor(new[] { (float)r, (float)(r * r), 1f }))
    {
        var gathered = pg.all_gather(input);
        Print("all_gather", string.Join(";", gathered.Select(Values)));
        foreach (var g in gathered) g.Dispose();
    }
    using (var a = full([1000], r + 1, float64))
    using (var c = full([3], 2 * r, float32))
    {
        using var wa = pg.all_reduce_async(a, distributed.ReduceOp.SUM);
        using var wc = pg.all_reduce_async(c, distributed.ReduceOp.MAX);
        wc.wait();
        wa.wait();
        using var sum = a.sum();
        Print("async", $"{Values(sum)};{Values(c)}");
    }
    // Mixed dtypes and odd byte counts in one flat buffer, and a non-contiguous tensor.
    using (var f = tensor(new[] { 1f + rank, 2f, 3f }))
    using (var l = tensor(new long[] { 10 + rank, (1L << 60) + rank }))
    using (var d = tensor(new[] { 0.25 + rank }))
    using (var square = arange(0, 6, dtype: float32).reshape(2, 3).add(rank))
    using (var transposed = square.t())
    {
        pg.broadcast_coalesced([f, l, d, transposed], src: world - 1);
        Print("broadcast_coalesced", $"{Values(f)};{string.Join(",", l.ToArray<long>())};{Values(d)};{Values(square)}");
    }
    distributed.barrier(pg);
    Print("barrier", "ok");
    Print("metric_mean", distributed.all_reduce(r + 0.5, distributed.ReduceOp.AVG, pg).ToString("R", CultureInfo.InvariantCulture));
    Print("metric_max", distributed.all_reduce(r * 3, distributed.ReduceOp.MAX, pg).ToString("R", CultureInfo.InvariantCulture));
    pg.Store.set($"hello/{rank}", $"from {rank}");
    var peer = (rank + 1) % world;
    Print("store", System.Text.Encoding.UTF8.GetString(pg.Store.get($"hello/{peer}")));
    pg.barrier();
    return 0;
}

// SmallCnn in float64 and eval mode (BatchNorm uses its running statistics: the per-sample gradients do not depend on
// the batch split, so 2 ranks x G/2 samples and 1 rank x G samples are the same math). world 1 trains without any
// process group: the independent reference. Each rank initialises with its own seed; DDP must broadcast rank 0's.
int Train()
{
    var steps = Int("steps", 5);
    var global = Int("global-batch", 16);
    var overlap = Int("overlap", 1) != 0;
    var bucketMb = Int("bucket-kb", 25 * 1024) / 1024.0;
    var accumulate = Int("accumulate", 1);
    if (global % (world * accumulate) != 0) throw new ArgumentException("global batch must divide by world size x accumulation steps");
    var local = global / world;

    manual_seed(1000 + rank);
    using var net = new SmallCnn();
    net.to(float64);
    net.eval();
    distributed.ProcessGroup? pg = world > 1 ? distributed.init_process_group("gloo", rank, world, "127.0.0.1", port, timeout) : null;
    try
    {
        using var ddp = pg is null ? null : new nn.parallel.DistributedDataParallel(net, pg, bucket_cap_mb: bucketMb, overlap: overlap);
        nn.Module<Tensor, Tensor> model = ddp is null ? net : ddp;
        if (ddp is not null) Print("buckets", ddp.bucket_count.ToString(CultureInfo.InvariantCulture));
        using var optimizer = new optim.SGD(net.parameters(), lr: 0.05, momentum: 0.9, weight_decay: 1e-4);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            // The same global batch on every rank, whatever the world size; each rank takes its slice.
            manual_seed(7 + step);
            var x = randn([global, 1, 28, 28], float64);
            var y = randint(0, 10, [global]);
            var xs = x.narrow(0, rank * local, local);
            var ys = y.narrow(0, rank * local, local);
            optimizer.zero_grad();
            // Gradient accumulation: micro-batches under no_sync() keep their gradients local, the last one averages
            // the sum across ranks. The loss of each micro-batch is scaled so that the sum is the batch mean.
            var micro = local / accumulate;
            Tensor? loss = null;
            for (var m = 0; m < accumulate; m++)
            {
                var part = nn.functional.cross_entropy(model.call(xs.narrow(0, m * micro, micro)), ys.narrow(0, m * micro, micro));
                using var scaled = part.div(accumulate);
                if (ddp is not null && m < accumulate - 1)
                {
                    using (ddp.no_sync()) scaled.backward();
                }
                else
                {
                    scaled.backward();
                }
                loss = loss is null ? scaled.detach() : loss.add(scaled);
            }
            optimizer.step();
            var mean = pg is null ? loss!.item<double>() : pg.all_reduce(loss!.item<double>(), distributed.ReduceOp.AVG);
            Print($"step {step} loss", mean.ToString("R", CultureInfo.InvariantCulture));
        }
        if (options.TryGetValue("out", out var path))
        {
            var state = net.state_dict();
            SafeTensors.Save(path, state);
            foreach (var t in state.Values) t.Dispose();
        }
        pg?.barrier();
        return 0;
    }
    finally
    {
        pg?.Dispose();
    }
}

// Rank 0 all-reduces; the others join the group but never take part (alive, heartbeating): rank 0 must fail
// with the group's timeout, not hang.
int Stall()
{
    using var pg = distributed.init_process_group("gloo", rank, world, "127.0.0.1", port, timeout);
    Print("joined", "yes");
    if (rank != 0)
    {
        Thread.Sleep(timeout * 4);
        return 0;
    }
    using var t = ones(4);
    pg.all_reduce(t);
    Print("all_reduce", "returned");
    return 0;
}
