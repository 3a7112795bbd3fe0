using Pipeline.Bench;
using Pipeline.Vision;

// Benchmarks run on the allocator the services run on (re-executes under jemalloc where installed).
NativeAllocator.Use();
// A ddp-worker takes the thread count it is given.
TorchThreads.Apply();

// Each benchmark runs our code and its named peer side by side and ends with its figures as key=value lines.
var benchmarks = new Dictionary<string, Func<string[], int>>(StringComparer.Ordinal)
{
    ["engine"] = EngineBenchmark.Run,
    ["ddp"] = DdpBenchmark.Run,
    ["decode"] = DecodeBenchmark.Run,
    ["make-detection"] = MakeDetectionCommand.Run,
    ["detection"] = DetectionBenchmark.Run,
    ["detection-ranks"] = DetectionRanksBenchmark.Run,
    ["fashion"] = FashionBenchmark.Run,
    ["transfer"] = TransferBenchmark.Run,
};

// One rank of the ddp benchmark, started by the benchmark itself.
if (args.Length > 0 && args[0] == "ddp-worker") return DdpBenchmark.Worker(args[1..]);

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: dotnet run -c Release --project bench/Pipeline.Bench -- <{string.Join("|", benchmarks.Keys)}> [options]");
    return 2;
}
return run(args[1..]);
