using Pipeline.Cli;
using Pipeline.Vision;

// libtorch's buffers on jemalloc (re-executes with it preloaded where installed), else on tuned glibc.
NativeAllocator.Use();
// A rank of `--nproc N` takes its share of the cores.
TorchThreads.Apply();
return CliApp.Run(args, Console.Out, Console.Error);
