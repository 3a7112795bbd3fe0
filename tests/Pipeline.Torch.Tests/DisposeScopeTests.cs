using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

public class DisposeScopeTests
{
    [Fact]
    public void Tensors_created_inside_are_disposed_on_exit()
    {
        Tensor a, b, c;
        Tensor[] parts;
        (Tensor values, Tensor indices) top;
        using (var scope = NewDisposeScope())
        {
            a = ones(3);
            b = a * 2;
            c = b.exp();
            parts = b.split(1);
            top = b.topk(1);
            Assert.Equal(8, scope.Count);
            Assert.False(c.IsDisposed);
        }
        Assert.All(new[] { a, b, c, top.values, top.indices }.Concat(parts), t => Assert.True(t.IsDisposed));
    }

    [Fact]
    public void Disposing_a_tensor_early_removes_it_from_the_scope()
    {
        using var scope = NewDisposeScope();
        var a = ones(2);
        var b = zeros(2);
        a.Dispose();
        Assert.Equal(1, scope.Count);
        Assert.False(b.IsDisposed);
    }

    [Fact]
    public void MoveToOuterDisposeScope_keeps_a_tensor_alive_into_the_outer_scope()
    {
        Tensor kept, dropped;
        using (var outer = NewDisposeScope())
        {
            using (var inner = NewDisposeScope())
            {
                dropped = ones(2);
                kept = (dropped + 1).MoveToOuterDisposeScope();
                Assert.Equal(1, inner.Count);
            }
            Assert.True(dropped.IsDisposed);
            Assert.False(kept.IsDisposed);
            Assert.Equal([2f, 2f], kept.ToArray<float>());
            Assert.Equal(1, outer.Count);
        }
        Assert.True(kept.IsDisposed);
    }

    [Fact]
    public void MoveToOuterDisposeScope_from_the_outermost_scope_leaves_it_to_the_caller()
    {
        Tensor kept;
        using (NewDisposeScope()) kept = ones(2).MoveToOuterDisposeScope();
        Assert.False(kept.IsDisposed);
        kept.Dispose();
        Assert.True(kept.IsDisposed);
    }

    [Fact]
    public void Nested_scopes_free_only_their_own_and_restore_the_outer_one()
    {
        using var outer = NewDisposeScope();
        var before = ones(1);
        Tensor inside;
        using (NewDisposeScope()) inside = ones(1);
        var after = ones(1);
        Assert.True(inside.IsDisposed);
        Assert.False(before.IsDisposed);
        Assert.False(after.IsDisposed);
        Assert.Equal(2, outer.Count);
    }

    [Fact]
    public void DetachFromDisposeScope_survives_every_scope()
    {
        Tensor detached;
        using (NewDisposeScope())
        {
            using (NewDisposeScope()) detached = arange(3).DetachFromDisposeScope();
        }
        Assert.False(detached.IsDisposed);
        Assert.Equal([0L, 1, 2], detached.ToArray<long>());
        detached.Dispose();
    }

    [Fact]
    public void A_scope_collects_only_its_own_threads_tensors()
    {
        using var scope = NewDisposeScope();
        Tensor? other = null;
        var thread = new Thread(() => other = ones(1));
        thread.Start();
        thread.Join();
        Assert.Equal(0, scope.Count);
        scope.Dispose();
        Assert.False(other!.IsDisposed);
        other.Dispose();
    }
}
