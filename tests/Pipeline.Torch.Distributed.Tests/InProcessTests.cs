using System.Diagnostics;
using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Distributed.Tests;

/// <summary>What one process can check on its own: argument errors, a missing store, a group of one.</summary>
public sealed class InProcessTests
{
    [Fact]
    public void A_store_client_with_no_server_fails_within_its_timeout_naming_the_address()
    {
        var port = WorkerProcess.FreePort();
        var watch = Stopwatch.StartNew();
        var error = Assert.Throws<DistributedException>(() => new distributed.TCPStore("127.0.0.1", port, 2, is_master: false, TimeSpan.FromSeconds(1)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.Contains($"TCPStore client on 127.0.0.1:{port} failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_rejected_before_anything_connects()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => distributed.init_process_group("gloo", 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => distributed.init_process_group("gloo", 0, 0));
        var port = WorkerProcess.FreePort();
        Assert.Throws<ArgumentException>(() => distributed.init_process_group("mpi", 0, 1, master_port: port, timeout: TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Nccl_without_a_cuda_build_says_so()
    {
        if (cuda.is_available()) return; // a CUDA build has NCCL: nothing to check here
        var port = WorkerProcess.FreePort();
        var error = Assert.Throws<DistributedException>(() => distributed.init_process_group("nccl", 0, 1, master_port: port, timeout: TimeSpan.FromSeconds(5)));
        Assert.Contains("no NCCL backend", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_group_of_one_reduces_to_itself_and_ddp_leaves_gradients_as_they_are()
    {
        var port = WorkerProcess.FreePort();
        using var pg = distributed.init_process_group("gloo", 0, 1, master_port: port, timeout: TimeSpan.FromSeconds(10));
        Assert.True(distributed.is_initialized());
        Assert.Equal(0, distributed.get_rank());
        Assert.Equal(1, distributed.get_world_size());
        using (var t = tensor(new[] { 1.0, -2.0 }))
        {
            distributed.all_reduce(t, distributed.ReduceOp.AVG);
            Assert.Equal([1.0, -2.0], t.ToArray<double>());
        }
        Assert.Equal(2.5, distributed.all_reduce(2.5, distributed.ReduceOp.SUM));

        manual_seed(3);
        using var plain = new nn.Linear(4, 3);
        using var wrapped = new nn.Linear(4, 3);
        var initial = plain.state_dict();
        wrapped.load_state_dict(initial);
        foreach (var t in initial.Values) t.Dispose();
        using var ddp = new nn.parallel.DistributedDataParallel(wrapped, pg, bucket_cap_mb: 0.00001);
        Assert.Equal(2, ddp.bucket_count);
        var keys = ddp.state_dict();
        Assert.Equal(["module.weight", "module.bias"], keys.Keys);
        foreach (var t in keys.Values) t.Dispose();
        using var x = randn(5, 4);
        using (var scope = NewDisposeScope())
        {
            plain.call(x).pow(2).sum().backward();
            ddp.call(x).pow(2).sum().backward();
        }
        using var g1 = plain.weight.grad!;
        using var g2 = wrapped.weight.grad!;
        Assert.Equal(g1.ToArray<float>(), g2.ToArray<float>());
        ddp.Dispose();
        // The wrapped module outlives the wrapper, and its backward no longer goes through the reducer.
        using (var scope = NewDisposeScope()) wrapped.call(x).sum().backward();
        Assert.False(wrapped.weight.IsDisposed);
        distributed.destroy_process_group();
        Assert.False(distributed.is_initialized());
    }
}
