using Pipeline.Cli;
using Pipeline.Vision;

// libtorch's buffers on jemalloc (re-executes with it preloaded where installed), else on tuned glibc.
NativeAllocator.Use();
return CliApp.Run(args, Console.Out, Console.Error);
