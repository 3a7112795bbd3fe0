using static TorchSharp.torch;

namespace Pipeline.Vision;

/// <summary>Registration helpers for modules that name their children explicitly (torchvision's names and order).</summary>
public static class ModuleExtensions
{
    /// <summary>Registers <paramref name="child"/> under <paramref name="name"/> and returns it (TorchSharp's
    /// <c>register_module</c> returns nothing); a child already registered under that name is replaced.</summary>
    public static T Register<T>(this nn.Module parent, string name, T child) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(child);
        // TorchSharp removes a child when given null, and refuses a second registration under the same name.
        if (parent.named_children().Any(c => c.name == name)) parent.register_module(name, null!);
        parent.register_module(name, child);
        return child;
    }

    /// <summary>Sets <c>requires_grad</c> on every parameter of <paramref name="module"/> (PyTorch's
    /// <c>Module.requires_grad_</c>, which TorchSharp's modules lack); returns the module.</summary>
    public static T requires_grad_<T>(this T module, bool requires_grad = true) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var p in module.parameters()) p.requires_grad = requires_grad;
        return module;
    }

    /// <summary>The direct child registered as <paramref name="name"/>, or null.</summary>
    public static nn.Module? GetChild(this nn.Module module, string name)
    {
        ArgumentNullException.ThrowIfNull(module);
        return module.named_children().FirstOrDefault(c => c.name == name).module;
    }

    /// <summary>
    /// Copies a state dict (parameters and persistent buffers by name) into <paramref name="module"/>, checked before
    /// anything is copied, as PyTorch's <c>load_state_dict</c> does: with <paramref name="strict"/> every key must be
    /// there and none foreign, and every tensor must have its target's shape (TorchSharp's own checks keys only, and
    /// its <c>copy_</c> would broadcast a smaller tensor). Values are converted to the target's dtype and device.
    /// </summary>
    /// <returns>the module's keys the dict lacks, and the dict's keys the module lacks</returns>
    public static (IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys) LoadStateDict(this nn.Module module,
        IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(state);
        var own = module.state_dict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new ArgumentException($"Error(s) in loading state_dict: missing keys {Few(missing)}; unexpected keys {Few(unexpected)}", nameof(state));
        var mismatched = state.Where(kv => own.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"size mismatch for {kv.Key}: copying a param with shape [{string.Join(", ", kv.Value.shape)}] from checkpoint, the shape in current model is [{string.Join(", ", own[kv.Key].shape)}]")
            .ToList();
        if (mismatched.Count > 0) throw new ArgumentException($"Error(s) in loading state_dict: {string.Join("; ", mismatched)}", nameof(state));
        using var noGrad = no_grad();
        foreach (var (key, value) in state)
            if (own.TryGetValue(key, out var target)) target.copy_(value);
        return (missing, unexpected);
    }

    private static string Few(List<string> keys) => keys.Count == 0 ? "none" : string.Join(", ", keys.Take(5)) + (keys.Count > 5 ? $" (+{keys.Count - 5})" : "");
}
