using System.Collections;
using System.Globalization;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006, CA1710 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>Runs its children in order, each on the previous one's output; children are named "0", "1", ...
        /// (or by the names given).</summary>
        public sealed class Sequential : Module<Tensor, Tensor>, IReadOnlyList<Module<Tensor, Tensor>>
        {
            private readonly List<Module<Tensor, Tensor>> layers = [];

            public Sequential(params Module<Tensor, Tensor>[] modules)
            {
                ArgumentNullException.ThrowIfNull(modules);
                foreach (var m in modules) append(m);
            }

            public Sequential(IEnumerable<(string name, Module<Tensor, Tensor> module)> modules)
            {
                ArgumentNullException.ThrowIfNull(modules);
                foreach (var (name, m) in modules)
                {
                    ArgumentNullException.ThrowIfNull(m);
                    register_module(name, m);
                    layers.Add(m);
                }
            }

            /// <summary>Adds a module at the end, named by its index.</summary>
            public Sequential append(Module<Tensor, Tensor> module)
            {
                ArgumentNullException.ThrowIfNull(module);
                register_module(layers.Count.ToString(CultureInfo.InvariantCulture), module);
                layers.Add(module);
                return this;
            }

            public int Count => layers.Count;
            public Module<Tensor, Tensor> this[int index] => layers[index];

            public override Tensor forward(Tensor input)
            {
                var x = input;
                foreach (var layer in layers) x = layer.forward(x);
                return ReferenceEquals(x, input) ? input.alias() : x;
            }

            public IEnumerator<Module<Tensor, Tensor>> GetEnumerator() => layers.GetEnumerator();
            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }

        /// <summary>A list of modules registered by index ("0", "1", ...), re-numbered after inserts and removals as in PyTorch.</summary>
        public class ModuleList<T> : Module, IList<T> where T : Module
        {
            private readonly List<T> items = [];

            public ModuleList(params T[] modules)
            {
                ArgumentNullException.ThrowIfNull(modules);
                foreach (var m in modules) Add(m);
            }

            public int Count => items.Count;
            public bool IsReadOnly => false;

            public T this[int index]
            {
                get => items[index];
                set
                {
                    ArgumentNullException.ThrowIfNull(value);
                    items[index] = value;
                    register_module(index.ToString(CultureInfo.InvariantCulture), value);
                }
            }

            public void Add(T item)
            {
                ArgumentNullException.ThrowIfNull(item);
                register_module(items.Count.ToString(CultureInfo.InvariantCulture), item);
                items.Add(item);
            }

            /// <summary>PyTorch's spelling of <see cref="Add"/>.</summary>
            public ModuleList<T> append(T item)
            {
                Add(item);
                return this;
            }

            public void Insert(int index, T item)
            {
                ArgumentNullException.ThrowIfNull(item);
                items.Insert(index, item);
                Renumber(index);
            }

            public void RemoveAt(int index)
            {
                items.RemoveAt(index);
                Renumber(index);
            }

            public bool Remove(T item)
            {
                var index = IndexOf(item);
                if (index < 0) return false;
                RemoveAt(index);
                return true;
            }

            public void Clear()
            {
                items.Clear();
                Renumber(0);
            }

            // Re-registers every entry from `from` on, then drops names past the end (registration order stays by index).
            private void Renumber(int from)
            {
                var names = ModuleNames;
                for (var k = from; k < items.Count; k++) register_module(k.ToString(CultureInfo.InvariantCulture), items[k]);
                foreach (var name in names)
                    if (int.Parse(name, CultureInfo.InvariantCulture) >= items.Count) UnregisterModule(name);
            }

            public int IndexOf(T item) => items.FindIndex(m => ReferenceEquals(m, item));
            public bool Contains(T item) => IndexOf(item) >= 0;
            public void CopyTo(T[] array, int arrayIndex) => items.CopyTo(array, arrayIndex);
            public IEnumerator<T> GetEnumerator() => items.GetEnumerator();
            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }

        /// <summary>A list of any modules (<see cref="ModuleList{T}"/> of <see cref="Module"/>).</summary>
        public sealed class ModuleList(params Module[] modules) : ModuleList<Module>(modules);
    }
}
#pragma warning restore CA1707, IDE1006, CA1710
