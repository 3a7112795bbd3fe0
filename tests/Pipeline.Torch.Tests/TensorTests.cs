using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Creation and copies for every dtype, errors crossing the ABI, and indexing semantics beyond parity.</summary>
public class TensorTests
{
    private static void CheckCreation<T>(ScalarType dtype, T[] values, Func<T, double> toDouble, Scalar fill, double fillValue, bool hasArange = true)
        where T : unmanaged
    {
        using var scope = NewDisposeScope();
        var z = zeros([2, 3], dtype);
        Assert.Equal(dtype, z.dtype);
        Assert.Equal([2L, 3L], z.shape);
        Assert.All(z.ToArray<T>(), v => Assert.Equal(0.0, toDouble(v)));
        Assert.All(ones([4], dtype).ToArray<T>(), v => Assert.Equal(1.0, toDouble(v)));

        var f = full([3, 2], fill, dtype);
        Assert.Equal(dtype, f.dtype);
        Assert.All(f.ToArray<T>(), v => Assert.Equal(fillValue, toDouble(v)));
        Assert.Equal(fillValue, f[2, 1].item<double>());

        if (hasArange)
        {
            var r = arange(0, 5, dtype: dtype);
            Assert.Equal(dtype, r.dtype);
            Assert.Equal([0.0, 1, 2, 3, 4], r.ToArray<T>().Select(toDouble));
        }

        var t = tensor(values, [2, values.Length / 2]);
        Assert.Equal(dtype, t.dtype);
        Assert.Equal([2L, values.Length / 2], t.shape);
        Assert.Equal(values, t.ToArray<T>());
        Assert.Equal(values, t.clone().ToArray<T>());
        Assert.Equal(toDouble(values[^1]), t[1, ^1].item<double>());
        Assert.Throws<InvalidOperationException>(() => t.ToArray<sbyte>());
    }

    [Fact]
    public void Float32_creation_and_round_trip()
    {
        CheckCreation(float32, [1.5f, -2.25f, 0f, 3e5f], v => v, 2.5, 2.5);
        using var t = tensor([1.5f, -2.25f]);
        Assert.Equal(-2.25f, t[1].item<float>());
        Assert.Equal(-2.25, t[1].item<double>());
    }

    [Fact]
    public void Float16_creation_and_round_trip() =>
        CheckCreation(float16, [(Half)1.5, (Half)(-2.25), (Half)0, (Half)65504], v => (double)v, 0.5, 0.5);

    [Fact]
    public void BFloat16_creation_and_round_trip() =>
        CheckCreation(bfloat16, [BFloat16.FromSingle(1.5f), BFloat16.FromSingle(-2.25f), BFloat16.FromSingle(0f), BFloat16.FromSingle(1024f)],
            v => v.ToSingle(), -3.0, -3.0);

    [Fact]
    public void Int64_creation_and_round_trip()
    {
        CheckCreation(int64, [long.MaxValue, long.MinValue, 0L, -7L], v => v, 7, 7);
        using var t = tensor([long.MaxValue, long.MinValue]);
        Assert.Equal(long.MaxValue, t[0].item<long>());
        Assert.Equal(long.MinValue, t[1].item<long>());
        using var f = full([2], 3);
        Assert.Equal(int64, f.dtype);
    }

    [Fact]
    public void Int32_creation_and_round_trip()
    {
        CheckCreation(int32, [int.MaxValue, int.MinValue, 0, -7], v => v, -3, -3);
        using var t = tensor([int.MinValue]);
        Assert.Equal(int.MinValue, t[0].item<int>());
    }

    [Fact]
    public void UInt8_creation_and_round_trip() => CheckCreation(uint8, [(byte)0, (byte)255, (byte)17, (byte)3], v => v, 200, 200);

    [Fact]
    public void Bool_creation_and_round_trip()
    {
        CheckCreation(@bool, [true, false, false, true], v => v ? 1 : 0, true, 1, hasArange: false);
        using var f = full([2], true);
        Assert.Equal(@bool, f.dtype);
        Assert.True(f[0].item<bool>());
        // PyTorch has no bool arange either; the message is libtorch's.
        var e = Assert.Throws<TorchException>(() => arange(0, 3, dtype: @bool));
        Assert.Contains("Bool", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Matmul_of_mismatched_shapes_throws_libtorch_message_and_the_process_goes_on()
    {
        using var scope = NewDisposeScope();
        var a = ones(2, 3);
        var e = Assert.Throws<TorchException>(() => a.matmul(ones(4, 5)));
        Assert.Contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", e.Message, StringComparison.Ordinal);
        // The error was taken: the next call succeeds and computes.
        Assert.Equal(Enumerable.Repeat(3f, 10), a.matmul(ones(3, 5)).ToArray<float>());
    }

    [Fact]
    public void Bad_reshape_throws_torch_exception()
    {
        using var a = ones(2, 3);
        var e = Assert.Throws<TorchException>(() => a.reshape(7));
        Assert.Contains("shape '[7]' is invalid for input of size 6", e.Message, StringComparison.Ordinal);
        using var ok = a.reshape(3, 2);
        Assert.Equal([3L, 2L], ok.shape);
    }

    [Fact]
    public void Disposed_tensor_used_in_an_op_throws_ObjectDisposedException()
    {
        using var live = ones(3);
        var dead = ones(3);
        dead.Dispose();
        Assert.True(dead.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => dead.exp());
        Assert.Throws<ObjectDisposedException>(() => live + dead);
        Assert.Throws<ObjectDisposedException>(() => cat([live, dead]));
        Assert.Throws<ObjectDisposedException>(() => live[dead]);
        dead.Dispose(); // twice is harmless
        using var sum = live.sum();
        Assert.Equal(3f, sum.item<float>());
    }

    [Fact]
    public void Errors_from_every_kind_of_export_become_torch_exceptions()
    {
        using var scope = NewDisposeScope();
        var a = arange(0, 6, dtype: float32).reshape(2, 3);
        Assert.Contains("must match the size", Assert.Throws<TorchException>(() => a.add_(ones(4))).Message, StringComparison.Ordinal);
        Assert.Contains("chunk expects `chunks` to be greater than 0", Assert.Throws<TorchException>(() => a.chunk(0)).Message, StringComparison.Ordinal);
        Assert.Contains("out of range", Assert.Throws<TorchException>(() => a.topk(4)).Message, StringComparison.Ordinal);
        Assert.Contains("index 5 is out of bounds for dimension 0 with size 2", Assert.Throws<TorchException>(() => a[5]).Message, StringComparison.Ordinal);
        Assert.Contains("Dimension out of range", Assert.Throws<TorchException>(() => a.max(3)).Message, StringComparison.Ordinal);
        Assert.Equal(15f, a.sum().item<float>());
    }

    [Fact]
    public void Basic_indexing_and_splits_are_views_and_index_assignment_writes_in_place()
    {
        using var scope = NewDisposeScope();
        var a = zeros(4, 3);
        a[1].fill_(5);
        a.split(2)[1].fill_(7);           // rows 2..3
        a[.., ^1] = full([4], 9.0);
        a.index_put_(-1.0, 0, 0);
        Assert.Equal([-1f, 0, 9, 5, 5, 9, 7, 7, 9, 7, 7, 9], a.ToArray<float>());
        Assert.Equal([0L, 3], a[^0..].shape);  // ^0.. is empty, as x[4:] in Python
        Assert.Throws<ArgumentOutOfRangeException>(() => a[^0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorIndex.Slice(step: 0));
    }

    [Fact]
    public void Lists_and_pairs_have_pytorch_shapes()
    {
        using var scope = NewDisposeScope();
        var a = arange(0, 10, dtype: float32);
        Assert.Equal([3L, 3, 3, 1], a.split(3).Select(t => t.shape[0]));
        Assert.Equal([4L, 4, 2], chunk(a, 3).Select(t => t.shape[0]));
        Assert.Equal(10, a.unbind().Length);
        var (values, indices) = topk(a, 2);
        Assert.Equal([9f, 8f], values.ToArray<float>());
        Assert.Equal([9L, 8L], indices.ToArray<long>());
        Assert.Equal(int64, indices.dtype);
    }
}

/// <summary>Tests that use libtorch's global CPU generator run alone, so that no other test draws from it in between.</summary>
[CollectionDefinition(nameof(GlobalRngCollection), DisableParallelization = true)]
public sealed class GlobalRngCollection;

[Collection(nameof(GlobalRngCollection))]
public class RngTests
{
    [Fact]
    public void Same_seed_gives_same_values_and_another_seed_differs()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var (n1, u1) = (randn(3, 4).ToArray<float>(), rand(5).ToArray<float>());
        manual_seed(11);
        var (n2, u2) = (randn(3, 4).ToArray<float>(), rand(5).ToArray<float>());
        manual_seed(12);
        var n3 = randn(3, 4).ToArray<float>();
        Assert.Equal(n1, n2);
        Assert.Equal(u1, u2);
        Assert.NotEqual(n1, n3);
        Assert.All(u1, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Manual_seed_matches_pytorch()
    {
        var (expected, _) = PyTorchReference.Run("rng_reference.py");
        using var scope = NewDisposeScope();
        manual_seed(7);
        TensorAssert.Close(expected["randn"], randn(3, 4), 0, 0, "randn");
        TensorAssert.Close(expected["rand"], rand(2, 5), 0, 0, "rand");
        TensorAssert.Close(expected["randint"], randint(0, 10, [6]), 0, 0, "randint");
        TensorAssert.Close(expected["randperm"], randperm(8), 0, 0, "randperm");
        manual_seed(123);
        TensorAssert.Close(expected["randn_large"], randn(40, 7), 0, 0, "randn_large");
    }
}
