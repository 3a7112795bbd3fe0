using System.Text;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// The base of every layer and model, as <c>torch.nn.Module</c>: parameters, buffers and child modules are
        /// registered explicitly (<see cref="register_parameter"/>, <see cref="register_buffer"/>,
        /// <see cref="register_module{T}"/>) and named as PyTorch names them (<c>0.weight</c>, <c>bn.running_mean</c>),
        /// in registration order. A module owns its parameters and buffers: Dispose frees them, recursively.
        /// </summary>
        public abstract class Module : IDisposable
        {
            private readonly OrderedDictionary<string, Parameter?> parameters_ = new(StringComparer.Ordinal);
            private readonly OrderedDictionary<string, Tensor?> buffers_ = new(StringComparer.Ordinal);
            private readonly HashSet<string> nonPersistent = new(StringComparer.Ordinal);
            private readonly OrderedDictionary<string, Module?> modules_ = new(StringComparer.Ordinal);
            private bool disposed;

            /// <summary>True in training mode (the default), false after <see cref="eval"/>.</summary>
            public bool training { get; private set; } = true;

            // ---- registration ----

            /// <summary>Adds (or replaces) a parameter; null registers the name with no parameter, as PyTorch allows.</summary>
            public void register_parameter(string name, Parameter? param)
            {
                CheckName(name, "parameter");
                if (buffers_.ContainsKey(name) || modules_.ContainsKey(name)) throw new ArgumentException($"attribute '{name}' already exists", nameof(name));
                parameters_[name] = param;
            }

            /// <summary>
            /// Adds (or replaces) a buffer: state that is not trained (running statistics). The module takes ownership of
            /// <paramref name="tensor"/> (it leaves any dispose scope). Non-persistent buffers stay out of the state dict.
            /// </summary>
            public void register_buffer(string name, Tensor? tensor, bool persistent = true)
            {
                CheckName(name, "buffer");
                if (parameters_.ContainsKey(name) || modules_.ContainsKey(name)) throw new ArgumentException($"attribute '{name}' already exists", nameof(name));
                tensor?.DetachFromDisposeScope();
                buffers_[name] = tensor;
                if (persistent) nonPersistent.Remove(name);
                else nonPersistent.Add(name);
            }

            /// <summary>Adds (or replaces) a child module and returns it.</summary>
            public T register_module<T>(string name, T module) where T : Module?
            {
                CheckName(name, "module");
                if (parameters_.ContainsKey(name) || buffers_.ContainsKey(name)) throw new ArgumentException($"attribute '{name}' already exists", nameof(name));
                if (ReferenceEquals(module, this)) throw new ArgumentException("a module cannot be its own child", nameof(module));
                modules_[name] = module;
                return module;
            }

            private static void CheckName(string name, string kind)
            {
                ArgumentNullException.ThrowIfNull(name);
                if (name.Length == 0) throw new ArgumentException($"{kind} name can't be empty string \"\"", nameof(name));
                if (name.Contains('.', StringComparison.Ordinal)) throw new ArgumentException($"{kind} name can't contain \".\"", nameof(name));
            }

            /// <summary>This module's own parameter (not its children's), or null.</summary>
            protected Parameter? GetParameter(string name) => parameters_.TryGetValue(name, out var p) ? p : null;
            protected Tensor? GetBuffer(string name) => buffers_.TryGetValue(name, out var b) ? b : null;
            protected Module? GetModule(string name) => modules_.TryGetValue(name, out var m) ? m : null;
            private protected IReadOnlyList<string> ModuleNames => [.. modules_.Keys];
            private protected void UnregisterModule(string name) => modules_.Remove(name);

            // ---- traversal (PyTorch's order: the module's own members first, then each child's, depth first) ----

            /// <summary>Every module in the tree, this one first (named ""), each once.</summary>
            public IEnumerable<(string name, Module module)> named_modules()
            {
                var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
                return NamedModules(seen, "");
            }

            private IEnumerable<(string name, Module module)> NamedModules(HashSet<Module> seen, string prefix)
            {
                if (!seen.Add(this)) yield break;
                yield return (prefix, this);
                foreach (var (name, child) in modules_)
                {
                    if (child is null) continue;
                    foreach (var item in child.NamedModules(seen, prefix.Length == 0 ? name : prefix + "." + name)) yield return item;
                }
            }

            public IEnumerable<Module> modules() => named_modules().Select(m => m.module);

            /// <summary>The direct children, each once.</summary>
            public IEnumerable<(string name, Module module)> named_children()
            {
                var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
                foreach (var (name, child) in modules_)
                    if (child is not null && seen.Add(child)) yield return (name, child);
            }

            public IEnumerable<Module> children() => named_children().Select(c => c.module);

            /// <summary>Parameters with dotted names (<c>features.0.weight</c>); a parameter shared by two modules appears once.</summary>
            public IEnumerable<(string name, Parameter parameter)> named_parameters(bool recurse = true) =>
                NamedMembers(m => m.parameters_, recurse).Select(x => (x.name, (Parameter)x.tensor));

            public IEnumerable<Parameter> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.parameter);

            /// <summary>Buffers (persistent or not) with dotted names.</summary>
            public IEnumerable<(string name, Tensor buffer)> named_buffers(bool recurse = true) => NamedMembers(m => m.buffers_, recurse);

            public IEnumerable<Tensor> buffers(bool recurse = true) => named_buffers(recurse).Select(b => b.buffer);

            private IEnumerable<(string name, Tensor tensor)> NamedMembers<T>(Func<Module, OrderedDictionary<string, T?>> members, bool recurse) where T : Tensor
            {
                var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
                var owners = recurse ? named_modules() : [("", this)];
                foreach (var (prefix, module) in owners)
                {
                    foreach (var (name, tensor) in members(module))
                    {
                        if (tensor is null || !seen.Add(tensor)) continue;
                        yield return (prefix.Length == 0 ? name : prefix + "." + name, tensor);
                    }
                }
            }

            // ---- modes ----

            /// <summary>Sets training mode on this module and every descendant (dropout and batch norm behave differently).</summary>
            public virtual Module train(bool mode = true)
            {
                training = mode;
                foreach (var child in children()) child.train(mode);
                return this;
            }

            public Module eval() => train(false);

            /// <summary>Calls <paramref name="fn"/> on every child (recursively) and then on this module, as PyTorch's
            /// <c>apply</c> (typically for custom initialisation).</summary>
            public Module apply(Action<Module> fn)
            {
                ArgumentNullException.ThrowIfNull(fn);
                foreach (var child in children()) child.apply(fn);
                fn(this);
                return this;
            }

            /// <summary>Sets requires_grad on every parameter (false freezes the module).</summary>
            public Module requires_grad_(bool requires_grad = true)
            {
                foreach (var p in parameters()) p.requires_grad = requires_grad;
                return this;
            }

            // ---- conversion (in place: the same Parameter objects keep their identity) ----

            /// <summary>Moves every parameter, gradient and buffer to <paramref name="device"/>, in place.</summary>
            public Module to(Device device) => Apply(t => t.device == device ? null : t.to(device));

            /// <summary>Converts floating-point parameters, gradients and buffers to <paramref name="dtype"/>, in place
            /// (integral buffers such as <c>num_batches_tracked</c> keep their type, as in PyTorch).</summary>
            public Module to(ScalarType dtype)
            {
                if (!dtype.IsFloatingPoint()) throw new ArgumentException($"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype.TorchName()}", nameof(dtype));
                return Apply(t => !t.dtype.IsFloatingPoint() || t.dtype == dtype ? null : t.to(dtype));
            }

            public Module to(Device device, ScalarType dtype)
            {
                to(device);
                return to(dtype);
            }

            /// <summary>Replaces each tensor's data by <paramref name="convert"/>'s result (null: unchanged), keeping the tensor objects.</summary>
            private Module Apply(Func<Tensor, Tensor?> convert)
            {
                foreach (var module in modules())
                {
                    foreach (var (_, p) in module.parameters_)
                    {
                        if (p is null) continue;
                        SetData(p, convert);
                        using var grad = p.grad;
                        if (grad is not null) SetData(grad, convert);
                    }
                    foreach (var (_, b) in module.buffers_)
                        if (b is not null) SetData(b, convert);
                }
                return this;
            }

            private static void SetData(Tensor target, Func<Tensor, Tensor?> convert)
            {
                using var replacement = convert(target);
                if (replacement is not null) Check(pt_set_data(target.Handle, replacement.Handle));
            }

            // ---- state dict ----

            /// <summary>
            /// Parameters and persistent buffers by PyTorch's key names, in PyTorch's order. The values are detached
            /// aliases: they share storage with the module (dispose them; that leaves the module intact).
            /// </summary>
            public Dictionary<string, Tensor> state_dict()
            {
                var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var (key, tensor) in StateEntries()) result[key] = tensor.detach();
                return result;
            }

            // Like PyTorch, shared parameters appear under every name that reaches them.
            private List<(string key, Tensor tensor)> StateEntries()
            {
                var entries = new List<(string, Tensor)>();
                CollectState("", entries);
                return entries;
            }

            private void CollectState(string prefix, List<(string, Tensor)> entries)
            {
                foreach (var (name, p) in parameters_)
                    if (p is not null) entries.Add((prefix + name, p));
                foreach (var (name, b) in buffers_)
                    if (b is not null && !nonPersistent.Contains(name)) entries.Add((prefix + name, b));
                foreach (var (name, child) in modules_) child?.CollectState(prefix + name + ".", entries);
            }

            /// <summary>
            /// Copies <paramref name="state_dict"/>'s values into the parameters and buffers in place (no graph recorded;
            /// values are converted to each tensor's dtype and device). Every key is checked before anything is copied: a
            /// shape mismatch always throws, and with <paramref name="strict"/> so do missing and unexpected keys.
            /// </summary>
            public (IReadOnlyList<string> missing_keys, IReadOnlyList<string> unexpected_keys) load_state_dict(IReadOnlyDictionary<string, Tensor> state_dict, bool strict = true)
            {
                ArgumentNullException.ThrowIfNull(state_dict);
                var entries = StateEntries();
                var expected = entries.Select(e => e.key).ToHashSet(StringComparer.Ordinal);
                var missing = entries.Where(e => !state_dict.ContainsKey(e.key)).Select(e => e.key).ToList();
                var unexpected = state_dict.Keys.Where(k => !expected.Contains(k)).ToList();
                var errors = new List<string>();
                if (strict && missing.Count > 0) errors.Add($"Missing key(s) in state_dict: {Quote(missing)}.");
                if (strict && unexpected.Count > 0) errors.Add($"Unexpected key(s) in state_dict: {Quote(unexpected)}.");
                foreach (var (key, target) in entries)
                {
                    if (!state_dict.TryGetValue(key, out var source)) continue;
                    if (source is null) throw new ArgumentException($"state_dict value for '{key}' is null", nameof(state_dict));
                    var (from, to) = (source.shape, target.shape);
                    if (!from.SequenceEqual(to))
                        errors.Add($"size mismatch for {key}: copying a param with shape {Shape(from)} from checkpoint, the shape in current model is {Shape(to)}.");
                }
                if (errors.Count > 0)
                    throw new ArgumentException($"Error(s) in loading state_dict for {GetType().Name}:\n\t{string.Join("\n\t", errors)}");
                foreach (var (key, target) in entries)
                    if (state_dict.TryGetValue(key, out var source)) Check(pt_copy_no_grad_(target.Handle, source.Handle));
                return (missing, unexpected);
            }

            private static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => $"\"{k}\""));

            private static string Shape(long[] shape)
            {
                var text = new StringBuilder("torch.Size([");
                text.AppendJoin(", ", shape);
                return text.Append("])").ToString();
            }

            // ---- gradients and lifetime ----

            /// <summary>Drops every parameter's gradient (or zeroes it in place with <paramref name="set_to_none"/> false).</summary>
            public void zero_grad(bool set_to_none = true)
            {
                foreach (var p in parameters()) p.zero_grad(set_to_none);
            }

            public void Dispose()
            {
                Dispose(true);
                GC.SuppressFinalize(this);
            }

            /// <summary>Frees this module's parameters and buffers and disposes its children.</summary>
            protected virtual void Dispose(bool disposing)
            {
                if (disposed || !disposing) return;
                disposed = true;
                foreach (var (_, p) in parameters_) p?.Dispose();
                foreach (var (_, b) in buffers_) b?.Dispose();
                foreach (var (_, m) in modules_) m?.Dispose();
            }
        }

        /// <summary>A module with a typed forward: call it with <see cref="call"/> (PyTorch's <c>module(x)</c>).</summary>
        public abstract class Module<TIn, TOut> : Module
        {
            public abstract TOut forward(TIn input);

            public TOut call(TIn input) => forward(input);
        }
    }
}
#pragma warning restore CA1707, IDE1006
