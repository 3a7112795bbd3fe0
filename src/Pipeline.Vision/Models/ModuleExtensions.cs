using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

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
}
