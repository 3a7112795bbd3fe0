using static TorchSharp.torch;

namespace Pipeline.Distributed.Tests;

/// <summary>A group of one, in this process: what is checked before any byte moves.</summary>
public sealed class ProcessGroupTests
{
    private static ProcessGroup Single() =>
        ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", WorkerProcess.FreePort(), 0, 1, TimeSpan.FromSeconds(10), BindHost: "127.0.0.1"));

    [Fact]
    public void Gloo_binds_to_Debian_s_libgloo_and_not_to_the_copy_inside_TorchSharp_s_libtorch()
    {
        using var t = ones(3); // TorchSharp's libtorch_cpu.so (which exports its own gloo symbols) is loaded first
        using var group = Single();
        Assert.Contains("libgloo.so", ProcessGroup.GlooLibrary, StringComparison.Ordinal);
        Assert.DoesNotContain("torch", ProcessGroup.GlooLibrary, StringComparison.Ordinal);
        Assert.True(ProcessGroup.IsAvailable(Backend.Gloo));
    }

    [Fact]
    public void The_store_listens_on_the_rendezvous_address_only_not_on_every_interface()
    {
        var port = WorkerProcess.FreePort();
        using var group = ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", port, 0, 1, TimeSpan.FromSeconds(10), BindHost: "127.0.0.1"));
        // The kernel's table of listening TCP sockets (state 0A), local address and port in hex: 127.0.0.1 is 0100007F.
        var listening = new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists)
            .SelectMany(f => File.ReadLines(f).Skip(1))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(c => c[3] == "0A" && c[1].EndsWith($":{port:X4}", StringComparison.Ordinal))
            .Select(c => c[1][..c[1].IndexOf(':', StringComparison.Ordinal)])
            .ToList();
        Assert.Equal(["0100007F"], listening);
    }

    [Fact]
    public void A_group_of_one_reduces_to_itself()
    {
        using var group = Single();
        using var t = tensor(new[] { 1.5, -2.0 });
        group.AllReduce(t, ReduceOp.Avg);
        group.Broadcast(t, 0);
        group.Barrier();
        Assert.Equal(new[] { 1.5, -2.0 }, t.data<double>().ToArray());
    }

    [Fact]
    public void Tensors_the_engine_cannot_take_in_place_are_refused_with_the_reason()
    {
        using var group = Single();
        using var matrix = zeros(3, 4);
        using var transposed = matrix.t();
        Assert.Contains("contiguous", Assert.Throws<ArgumentException>(() => group.AllReduce(transposed)).Message, StringComparison.Ordinal);
        using var ints = zeros(3, dtype: ScalarType.Int32);
        Assert.Contains("Int32", Assert.Throws<ArgumentException>(() => group.AllReduce(ints)).Message, StringComparison.Ordinal);
        using var t = zeros(2);
        Assert.Contains("root 1 is outside world size 1", Assert.Throws<DistributedException>(() => group.Broadcast(t, 1)).Message, StringComparison.Ordinal);
        group.Dispose();
        Assert.Throws<ObjectDisposedException>(() => group.AllReduce(t));
    }

    [Fact]
    public void NCCL_is_refused_by_a_build_without_it_and_a_bad_rank_before_anything_starts()
    {
        if (!ProcessGroup.IsAvailable(Backend.Nccl))
        {
            var e = Assert.Throws<DistributedException>(() => ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", WorkerProcess.FreePort(), 0, 1, TimeSpan.FromSeconds(5), Backend.Nccl)));
            Assert.Contains("no NCCL backend", e.Message, StringComparison.Ordinal);
        }
        var bad = Assert.Throws<DistributedException>(() => ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", WorkerProcess.FreePort(), 2, 2, TimeSpan.FromSeconds(5))));
        Assert.Contains("rank 2 is outside world size 2", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rank_whose_peers_never_come_fails_its_rendezvous_within_the_timeout()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => ProcessGroup.Join(new ProcessGroupOptions("127.0.0.1", WorkerProcess.FreePort(), 0, 2, TimeSpan.FromSeconds(2), BindHost: "127.0.0.1")));
        Assert.Contains("gloo rendezvous failed on rank 0 of 2", e.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Data_parallel_over_a_group_of_one_keeps_the_gradients_and_fills_in_the_missing_ones()
    {
        using var group = Single();
        var model = TorchSharp.torch.nn.Sequential(TorchSharp.torch.nn.Linear(3, 2), TorchSharp.torch.nn.Linear(2, 1));
        using var ddp = new DistributedDataParallel(model, group);
        Assert.Equal(1, ddp.BucketCount);
        var parameters = model.parameters().ToList();
        using var x = ones(4, 3);
        using var loss = model.call(x).sum();
        loss.backward();
        var before = parameters[0].grad!.data<float>().ToArray();
        parameters[3].grad = null; // a parameter that got no gradient on this rank: zeros, averaged
        ddp.SynchronizeGradients();
        Assert.Equal(before, parameters[0].grad!.data<float>().ToArray());
        Assert.Equal([0f], parameters[3].grad!.data<float>().ToArray());
        ddp.Dispose();
        Assert.Throws<ObjectDisposedException>(ddp.SynchronizeGradients);
    }
}
