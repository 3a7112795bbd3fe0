using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Pipeline.Torch.Serialization;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class optim
    {
        /// <summary>
        /// One parameter group's hyper-parameters (PyTorch's group dict). Each optimizer has its own subtype;
        /// a group holds its own copy, so changing one group's <c>lr</c> leaves the others alone.
        /// </summary>
        public abstract record OptimizerOptions
        {
            public double lr { get; set; }
            public double weight_decay { get; set; }

            internal virtual void Validate()
            {
                if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "Invalid learning rate");
                if (!(weight_decay >= 0)) throw new ArgumentOutOfRangeException(nameof(weight_decay), weight_decay, "Invalid weight_decay value");
            }

            internal virtual void WriteJson(Utf8JsonWriter writer)
            {
                writer.WriteNumber("lr", lr);
                writer.WriteNumber("weight_decay", weight_decay);
            }

            internal virtual void ReadJson(JsonElement json)
            {
                lr = json.GetProperty("lr").GetDouble();
                weight_decay = json.GetProperty("weight_decay").GetDouble();
            }
        }

        /// <summary>
        /// Parameters that share hyper-parameters. Unset options come from the optimizer's defaults when the group
        /// is added (as PyTorch fills a group dict's missing keys); pass <c>lr</c>/<c>weight_decay</c> to override
        /// those, or a whole options object (e.g. <c>defaults with { momentum = 0 }</c>) to override anything.
        /// </summary>
        public sealed class ParamGroup
        {
            private readonly double? lrOverride;
            private readonly double? weightDecayOverride;
            private readonly OptimizerOptions? requested;
            private OptimizerOptions? resolved;
            private Optimizer? owner;

            public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? weight_decay = null)
            {
                ArgumentNullException.ThrowIfNull(parameters);
                this.parameters = parameters.ToArray();
                lrOverride = lr;
                weightDecayOverride = weight_decay;
            }

            public ParamGroup(IEnumerable<Parameter> parameters, OptimizerOptions options) : this(parameters)
            {
                ArgumentNullException.ThrowIfNull(options);
                requested = options;
            }

            public IReadOnlyList<Parameter> parameters { get; }

            /// <summary>This group's options (its own copy), once the group belongs to an optimizer.</summary>
            public OptimizerOptions options => resolved ?? throw new InvalidOperationException(
                "this parameter group does not belong to an optimizer yet; its options are resolved when it is added");

            /// <summary>The learning rate (schedulers set it).</summary>
            public double lr
            {
                get => options.lr;
                set
                {
                    if (!(value >= 0)) throw new ArgumentOutOfRangeException(nameof(value), value, "Invalid learning rate");
                    options.lr = value;
                }
            }

            public double weight_decay
            {
                get => options.weight_decay;
                set
                {
                    if (!(value >= 0)) throw new ArgumentOutOfRangeException(nameof(value), value, "Invalid weight_decay value");
                    options.weight_decay = value;
                }
            }

            internal void Attach(Optimizer optimizer, OptimizerOptions defaults)
            {
                if (owner is not null) throw new ArgumentException("this parameter group already belongs to an optimizer");
                if (requested is not null && requested.GetType() != defaults.GetType())
                    throw new ArgumentException($"a {optimizer.GetType().Name} parameter group needs {defaults.GetType().Name}, not {requested.GetType().Name}");
                var options = (requested ?? defaults) with { };
                if (lrOverride is { } lrValue) options.lr = lrValue;
                if (weightDecayOverride is { } wd) options.weight_decay = wd;
                options.Validate();
                resolved = options;
                owner = optimizer;
            }

            internal void Replace(OptimizerOptions options) => resolved = options;
        }

        /// <summary>
        /// An optimizer's serialisable state: tensors keyed <c>state.{paramIndex}.{name}</c> (parameters numbered
        /// across groups in order, as PyTorch does) and string metadata holding the type, the groups'
        /// hyper-parameters and parameter shapes (JSON) and the step counts. Stores as one safetensors file.
        /// The tensors are new handles to the optimizer's live state: save before stepping again.
        /// </summary>
        public sealed class OptimizerStateDict : IDisposable
        {
            public OptimizerStateDict(Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata)
            {
                ArgumentNullException.ThrowIfNull(tensors);
                ArgumentNullException.ThrowIfNull(metadata);
                this.tensors = tensors;
                this.metadata = metadata;
            }

            public Dictionary<string, Tensor> tensors { get; }
            public Dictionary<string, string> metadata { get; }

            public void save(string path) => SafeTensors.Save(path, tensors, metadata);

            public static OptimizerStateDict load(string path)
            {
                var tensors = SafeTensors.Load(path, out var metadata);
                return new OptimizerStateDict(tensors, metadata);
            }

            public void Dispose()
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }

        /// <summary>
        /// Base of the optimizers: parameter groups, per-parameter state, and exact-resume state dicts. Each group's
        /// step is one native call over all its parameters. Owns its state tensors: dispose it.
        /// </summary>
        public abstract class Optimizer : IDisposable
        {
            internal const string TypeKey = "optimizer.type";
            internal const string GroupsKey = "optimizer.param_groups";

            private readonly List<ParamGroup> groups = [];
            private readonly Dictionary<Parameter, ParamState> state = new(ReferenceEqualityComparer.Instance);

            private sealed class ParamState(int slots)
            {
                public readonly Tensor?[] Slots = new Tensor?[slots];
                public long Step;
                public bool IsEmpty => Step == 0 && Slots.All(s => s is null);
            }

            private protected Optimizer(IEnumerable<ParamGroup> param_groups, OptimizerOptions defaults)
            {
                ArgumentNullException.ThrowIfNull(param_groups);
                ArgumentNullException.ThrowIfNull(defaults);
                defaults.Validate();
                this.defaults = defaults;
                foreach (var g in param_groups) add_param_group(g);
                if (groups.Count == 0) throw new ArgumentException("optimizer got an empty parameter list", nameof(param_groups));
            }

            /// <summary>The options a group added without its own takes.</summary>
            public OptimizerOptions defaults { get; }

            public IReadOnlyList<ParamGroup> param_groups => groups;

            /// <summary>The names of the per-parameter state tensors, in the order the native step takes them.</summary>
            private protected abstract string[] StateNames { get; }

            /// <summary>Whether the optimizer keeps a per-parameter step count (Adam's bias correction).</summary>
            private protected virtual bool CountsSteps => false;

            private protected abstract void StepGroup(ParamGroup group);

            public void add_param_group(ParamGroup param_group)
            {
                ArgumentNullException.ThrowIfNull(param_group);
                var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
                foreach (var p in param_group.parameters)
                {
                    ArgumentNullException.ThrowIfNull(p, nameof(param_group));
                    if (!seen.Add(p)) throw new ArgumentException("a parameter appears twice in the same parameter group", nameof(param_group));
                    if (groups.Any(g => g.parameters.Contains(p, ReferenceEqualityComparer.Instance)))
                        throw new ArgumentException("some parameters appear in more than one parameter group", nameof(param_group));
                }
                param_group.Attach(this, defaults);
                groups.Add(param_group);
            }

            /// <summary>Drops every gradient (<paramref name="set_to_none"/>, the default) or zeroes it in place.</summary>
            public void zero_grad(bool set_to_none = true)
            {
                foreach (var g in groups)
                    foreach (var p in g.parameters) p.zero_grad(set_to_none);
            }

            /// <summary>One update of every parameter that has a gradient.</summary>
            public void step()
            {
                foreach (var g in groups) StepGroup(g);
            }

            /// <summary>Evaluates <paramref name="closure"/> (with grad enabled) and then steps; returns its loss.</summary>
            public Tensor step(Func<Tensor> closure)
            {
                ArgumentNullException.ThrowIfNull(closure);
                Tensor loss;
                using (enable_grad()) loss = closure();
                step();
                return loss;
            }

            internal unsafe delegate int NativeStep(IntPtr* parameters, int count, IntPtr* slots, long* steps);

            /// <summary>
            /// Calls a native group step with the group's parameters, a slot-major array of state handles
            /// (<c>slots[s * count + k]</c>, null where not yet created) and the step counts; adopts the state the
            /// native side created, even when it failed part-way, so that nothing leaks.
            /// </summary>
            internal unsafe void RunNative(ParamGroup group, NativeStep call)
            {
                var ps = group.parameters;
                var n = ps.Count;
                var m = StateNames.Length;
                var states = new ParamState[n];
                var paramPtrs = new IntPtr[n];
                var slotPtrs = new IntPtr[Math.Max(1, n * m)];
                var steps = new long[Math.Max(1, n)];
                var added = new List<SafeHandle>(n * (m + 1));
                try
                {
                    for (var k = 0; k < n; k++)
                    {
                        paramPtrs[k] = AddRef(ps[k], added);
                        if (!state.TryGetValue(ps[k], out var s)) state[ps[k]] = s = new ParamState(m);
                        states[k] = s;
                        steps[k] = s.Step;
                        for (var j = 0; j < m; j++)
                            if (s.Slots[j] is { } t) slotPtrs[j * n + k] = AddRef(t, added);
                    }
                    int rc;
                    fixed (IntPtr* pp = paramPtrs)
                    fixed (IntPtr* sp = slotPtrs)
                    fixed (long* st = steps)
                        rc = call(pp, n, sp, st);
                    for (var k = 0; k < n; k++)
                    {
                        for (var j = 0; j < m; j++)
                            if (states[k].Slots[j] is null && slotPtrs[j * n + k] != IntPtr.Zero)
                                states[k].Slots[j] = new Tensor(slotPtrs[j * n + k]).DetachFromDisposeScope();
                        states[k].Step = steps[k];
                    }
                    Check(rc);
                }
                finally
                {
                    foreach (var h in added) h.DangerousRelease();
                }
            }

            private static IntPtr AddRef(Tensor t, List<SafeHandle> added)
            {
                var ok = false;
                t.Handle.DangerousAddRef(ref ok);
                added.Add(t.Handle);
                return t.Handle.DangerousGetHandle();
            }

            /// <summary>A new handle (dispose it) to one parameter's state tensor (e.g. <c>exp_avg</c>), or null before its first step.</summary>
            public Tensor? state_tensor(Parameter parameter, string name)
            {
                ArgumentNullException.ThrowIfNull(parameter);
                var j = Array.IndexOf(StateNames, name);
                if (j < 0) throw new ArgumentException($"{GetType().Name} keeps no state named '{name}' (it has: {string.Join(", ", StateNames)})", nameof(name));
                return state.TryGetValue(parameter, out var s) ? s.Slots[j]?.alias() : null;
            }

            /// <summary>The state and hyper-parameters for exact resume (see <see cref="OptimizerStateDict"/>).</summary>
            public OptimizerStateDict state_dict()
            {
                var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { [TypeKey] = GetType().Name };
                var buffer = new ArrayBufferWriter<byte>();
                var index = 0;
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartArray();
                    foreach (var g in groups)
                    {
                        w.WriteStartObject();
                        w.WriteStartArray("params");
                        foreach (var p in g.parameters) w.WriteNumberValue(index++);
                        w.WriteEndArray();
                        w.WriteStartArray("shapes");
                        foreach (var p in g.parameters)
                        {
                            w.WriteStartArray();
                            foreach (var d in p.shape) w.WriteNumberValue(d);
                            w.WriteEndArray();
                        }
                        w.WriteEndArray();
                        w.WriteStartObject("options");
                        g.options.WriteJson(w);
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                metadata[GroupsKey] = Encoding.UTF8.GetString(buffer.WrittenSpan);

                index = 0;
                foreach (var p in groups.SelectMany(g => g.parameters))
                {
                    if (state.TryGetValue(p, out var s) && !s.IsEmpty)
                    {
                        for (var j = 0; j < StateNames.Length; j++)
                            if (s.Slots[j] is { } t) tensors[$"state.{index}.{StateNames[j]}"] = t.alias();
                        if (CountsSteps) metadata[$"state.{index}.step"] = s.Step.ToString(CultureInfo.InvariantCulture);
                    }
                    index++;
                }
                return new OptimizerStateDict(tensors, metadata);
            }

            /// <summary>
            /// Restores hyper-parameters, state tensors and step counts saved by <see cref="state_dict"/> for the same
            /// parameter layout. Validates everything before changing anything; the dict's tensors are copied.
            /// </summary>
            public void load_state_dict(OptimizerStateDict state_dict)
            {
                ArgumentNullException.ThrowIfNull(state_dict);
                var meta = state_dict.metadata;
                if (!meta.TryGetValue(TypeKey, out var type) || !meta.TryGetValue(GroupsKey, out var groupsJson))
                    throw new ArgumentException($"not an optimizer state dict: metadata '{TypeKey}' or '{GroupsKey}' is missing", nameof(state_dict));
                if (type != GetType().Name)
                    throw new ArgumentException($"the state dict is for a {type} optimizer, but this one is {GetType().Name}", nameof(state_dict));

                var all = groups.SelectMany(g => g.parameters).ToArray();
                var options = ParseGroups(groupsJson, all);

                // Parse and check every state entry first, so that a bad dict leaves the optimizer untouched.
                var tensorsByParam = new Dictionary<int, Tensor?[]>();
                foreach (var (key, t) in state_dict.tensors)
                {
                    var (index, name) = ParseStateKey(key, all.Length);
                    var j = Array.IndexOf(StateNames, name);
                    if (j < 0) throw new ArgumentException($"state dict entry '{key}': {GetType().Name} keeps no state named '{name}'", nameof(state_dict));
                    var expected = all[index].shape;
                    if (!t.shape.SequenceEqual(expected))
                        throw new ArgumentException($"state dict entry '{key}' has shape [{string.Join(", ", t.shape)}] but parameter {index} has shape [{string.Join(", ", expected)}]", nameof(state_dict));
                    if (!tensorsByParam.TryGetValue(index, out var slots)) tensorsByParam[index] = slots = new Tensor?[StateNames.Length];
                    slots[j] = t;
                }
                var steps = new Dictionary<int, long>();
                foreach (var (key, value) in meta)
                {
                    if (!key.StartsWith("state.", StringComparison.Ordinal)) continue;
                    var (index, name) = ParseStateKey(key, all.Length);
                    if (name != "step" || !CountsSteps)
                        throw new ArgumentException($"state dict metadata '{key}' is not a {GetType().Name} step count", nameof(state_dict));
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var step))
                        throw new ArgumentException($"state dict metadata '{key}' = '{value}' is not a step count", nameof(state_dict));
                    steps[index] = step;
                }

                var copies = new List<(int Index, int Slot, Tensor Copy)>();
                try
                {
                    foreach (var (index, slots) in tensorsByParam)
                    {
                        var p = all[index];
                        var dtype = p.dtype;
                        var device = p.device;
                        for (var j = 0; j < slots.Length; j++)
                            if (slots[j] is { } t)
                                copies.Add((index, j, new Tensor(pt_to(t.Handle, (int)dtype, (int)device.Type, device.Index, 0, 1)).DetachFromDisposeScope()));
                    }
                }
                catch
                {
                    foreach (var c in copies) c.Copy.Dispose();
                    throw;
                }

                ClearState();
                for (var g = 0; g < groups.Count; g++) groups[g].Replace(options[g]);
                for (var i = 0; i < all.Length; i++)
                {
                    var s = new ParamState(StateNames.Length) { Step = steps.GetValueOrDefault(i) };
                    state[all[i]] = s;
                }
                foreach (var (index, slot, copy) in copies) state[all[index]].Slots[slot] = copy;
            }

            private List<OptimizerOptions> ParseGroups(string json, Parameter[] all)
            {
                var result = new List<OptimizerOptions>();
                try
                {
                    using var doc = JsonDocument.Parse(json);
                    var saved = doc.RootElement.EnumerateArray().ToArray();
                    if (saved.Length != groups.Count)
                        throw new ArgumentException($"the state dict has {saved.Length} parameter groups but the optimizer has {groups.Count}");
                    var first = 0;
                    for (var g = 0; g < saved.Length; g++)
                    {
                        var shapes = saved[g].GetProperty("shapes").EnumerateArray()
                            .Select(s => s.EnumerateArray().Select(d => d.GetInt64()).ToArray()).ToArray();
                        var ps = groups[g].parameters;
                        if (shapes.Length != ps.Count)
                            throw new ArgumentException($"parameter group {g} has {shapes.Length} parameters in the state dict but {ps.Count} in the optimizer");
                        for (var k = 0; k < ps.Count; k++)
                        {
                            var actual = ps[k].shape;
                            if (!actual.SequenceEqual(shapes[k]))
                                throw new ArgumentException($"parameter {first + k} (group {g}, position {k}) has shape [{string.Join(", ", actual)}] but the state dict was saved for shape [{string.Join(", ", shapes[k])}]");
                        }
                        first += ps.Count;
                        var options = groups[g].options with { };
                        options.ReadJson(saved[g].GetProperty("options"));
                        options.Validate();
                        result.Add(options);
                    }
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    throw new ArgumentException($"malformed optimizer state dict metadata '{GroupsKey}': {e.Message}", e);
                }
                return result;
            }

            private static (int Index, string Name) ParseStateKey(string key, int count)
            {
                var parts = key.Split('.');
                if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    throw new ArgumentException($"state dict key '{key}' is not of the form state.{{paramIndex}}.{{name}}");
                if (index >= count)
                    throw new ArgumentException($"state dict key '{key}' refers to parameter {index}, but the optimizer has {count} parameters");
                return (index, parts[2]);
            }

            private void ClearState()
            {
                foreach (var s in state.Values)
                    foreach (var t in s.Slots) t?.Dispose();
                state.Clear();
            }

            public void Dispose()
            {
                Dispose(true);
                GC.SuppressFinalize(this);
            }

            protected virtual void Dispose(bool disposing)
            {
                if (disposing) ClearState();
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
