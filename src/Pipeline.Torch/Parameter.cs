namespace Pipeline.Torch;

/// <summary>
/// A trainable tensor owned by a module: requires grad, and never collected by a dispose scope
/// (the module disposes it).
/// </summary>
public sealed class Parameter : Tensor
{
    /// <summary>Wraps <paramref name="data"/> (sharing its storage) as a leaf that requires grad.</summary>
    public Parameter(Tensor data, bool requires_grad = true) : base(PrepareLeaf(data), registerInScope: false)
    {
        this.requires_grad = requires_grad;
    }

    private static Tensor PrepareLeaf(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        // A parameter is a leaf: cut it from any graph that produced its initial value.
        return data.is_leaf ? data : data.detach();
    }
}
