namespace Pipeline.Torch;

/// <summary>
/// Collects every tensor created on this thread while it is the innermost scope, and frees them all on
/// Dispose: one <c>using var scope = torch.NewDisposeScope();</c> per training step frees its temporaries.
/// Keep a result past the scope with <see cref="Tensor.MoveToOuterDisposeScope"/> or
/// <see cref="Tensor.DetachFromDisposeScope"/>.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? current;

    private readonly DisposeScope? outer;
    private readonly HashSet<Tensor> tensors = new(ReferenceEqualityComparer.Instance);
    private bool disposed;

    internal DisposeScope()
    {
        outer = current;
        current = this;
    }

    internal static DisposeScope? Current => current;

    /// <summary>How many live tensors this scope will free.</summary>
    public int Count => tensors.Count;

    internal static void Register(Tensor tensor)
    {
        var scope = current;
        if (scope is null) return;
        scope.tensors.Add(tensor);
        tensor.Scope = scope;
    }

    internal void Remove(Tensor tensor) => tensors.Remove(tensor);

    internal void MoveToOuter(Tensor tensor)
    {
        tensors.Remove(tensor);
        tensor.Scope = null;
        if (outer is not null)
        {
            outer.tensors.Add(tensor);
            tensor.Scope = outer;
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var tensor in tensors)
        {
            tensor.Scope = null;
            tensor.Dispose();
        }
        tensors.Clear();
        // Scopes nest strictly; restore the outer one even if an inner scope was leaked.
        if (ReferenceEquals(current, this)) current = outer;
    }
}
