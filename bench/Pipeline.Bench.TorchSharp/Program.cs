using System.Diagnostics;
using System.Globalization;
using Pipeline.Bench.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

// TorchSharp's side of the engine benchmark: the same training steps as Peers/engine_bench.py.
// Usage: CASE WARMUP STEPS THREADS   prints ms_per_step=<x>
//        memory THREADS              2,000 small-CNN steps; prints rss_step200_mib=, rss_step2000_mib=
if (args.Length < 2) return Usage();
var threads = int.Parse(args[args[0] == "memory" ? 1 : 3], CultureInfo.InvariantCulture);
torch.set_num_threads(threads);
manual_seed(0);
if (args[0] == "memory") return Memory();
if (args.Length < 4) return Usage();
var (model, x) = args[0] switch
{
    "small_cnn" => ((nn.Module<Tensor, Tensor>)new SmallCnn(), randn(128, 1, 28, 28)),
    "resnet18" => (new ResNet18(), randn(64, 3, 32, 32)),
    _ => throw new ArgumentException($"unknown case {args[0]}"),
};
var y = randint(0, 10, x.shape[0]);
var optimizer = optim.SGD(model.parameters(), 0.01, momentum: 0.9, weight_decay: 5e-4);
model.train();
var warmup = int.Parse(args[1], CultureInfo.InvariantCulture);
var steps = int.Parse(args[2], CultureInfo.InvariantCulture);
for (var k = 0; k < warmup; k++) Step(model, optimizer, x, y);
var watch = Stopwatch.StartNew();
for (var k = 0; k < steps; k++) Step(model, optimizer, x, y);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ms_per_step={watch.Elapsed.TotalMilliseconds / steps:F3}"));
return 0;

static int Usage()
{
    Console.Error.WriteLine("usage: Pipeline.Bench.TorchSharp CASE WARMUP STEPS THREADS | memory THREADS");
    return 2;
}

// One training step, its temporaries freed by the dispose scope.
static void Step(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y)
{
    using var scope = NewDisposeScope();
    optimizer.zero_grad();
    var loss = nn.functional.cross_entropy(model.call(x), y);
    loss.backward();
    optimizer.step();
}

static int Memory()
{
    const int total = 2000, early = 200;
    var model = new SmallCnn();
    model.train();
    var x = randn(128, 1, 28, 28);
    var y = randint(0, 10, 128);
    var optimizer = optim.SGD(model.parameters(), 0.01, momentum: 0.9, weight_decay: 5e-4);
    double rssEarly = 0;
    for (var k = 1; k <= total; k++)
    {
        Step(model, optimizer, x, y);
        if (k == early) rssEarly = ResidentMiB();
        if (k % 500 == 0) Console.Error.WriteLine($"  torchsharp memory: step {k}, rss {ResidentMiB():F1} MiB");
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rss_step200_mib={rssEarly:F1} rss_step2000_mib={ResidentMiB():F1}"));
    return 0;
}

static double ResidentMiB()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            return double.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
    throw new InvalidOperationException("VmRSS not found in /proc/self/status");
}
