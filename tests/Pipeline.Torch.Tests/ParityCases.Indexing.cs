using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Mirrors Reference/cases_indexing.py.</summary>
[ParityCaseSet]
public static class IndexingParityCases
{
    public static Dictionary<string, ParityCases.Case> Cases { get; } = new()
    {
        ["select_narrow_slice"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["select"] = a.select(1, 2), ["narrow"] = a.narrow(2, 1, 3), ["slice_step"] = a.slice(1, 1, 5, 2),
                ["slice_open"] = a.slice(-1, 3), ["slice_negative"] = a.slice(1, -3, -1),
            };
        },
        ["indexer"] = i =>
        {
            var (a, idx) = (i("a"), i("idx"));
            return new()
            {
                ["int_from_end"] = a[0, ^1], ["ranges"] = a[.., 1..3], ["ellipsis"] = a[TensorIndex.Ellipsis, 2],
                ["none"] = a[TensorIndex.None, 1, .., TensorIndex.None], ["step"] = a[TensorIndex.Slice(step: 2), 1.., ^2..],
                ["to_end"] = a[..^1, ..2], ["mask"] = a[a > 0.5], ["long_index"] = a[idx, .., 1], ["mixed"] = a[1, idx], ["all"] = a[..],
            };
        },
        ["index_put"] = i =>
        {
            var (a, v, w) = (i("a"), i("v"), i("w"));
            var y = a * 1;
            y[1, 1..3] = v;
            y.index_put_(0.5, .., ^1);
            y[TensorIndex.Ellipsis, 0] = w;
            var z = a * 2;
            z.index_put_(0.0, z > 0);
            return new() { ["y"] = y, ["z"] = z };
        },
        ["gather_scatter"] = i =>
        {
            var (a, src, idx, unique, sel) = (i("a"), i("src"), i("idx"), i("unique"), i("sel"));
            var y = (a * 1).scatter_(1, unique, src);
            var z = (a * 1).scatter_add_(1, idx, src);
            return new()
            {
                ["index_select"] = a.index_select(1, sel), ["gather"] = a.gather(1, idx), ["scatter"] = a.scatter(1, unique, src),
                ["scatter_value"] = a.scatter(1, unique, 2.5), ["scatter_add"] = a.scatter_add(1, idx, src),
                ["scatter_"] = y, ["scatter_add_"] = z, ["static"] = gather(a, 0, idx.remainder(3)),
            };
        },
        ["masks_where"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            var y = (a * 2).masked_fill_(b < 0, 3.0);
            return new()
            {
                ["masked_fill"] = a.masked_fill(a > 0, -1.0), ["masked_fill_"] = y, ["where"] = where(a > b, a, b),
                ["where_scalar"] = where(a > 0, a, 0.0), ["where_scalar_first"] = where(a > 0, 1.0, b),
                ["where_method"] = a.where(b > 0, b), ["masked_select"] = a.masked_select(b > 0), ["nonzero"] = (a > 0).nonzero(),
            };
        },
        ["expand_repeat_flip_roll"] = i =>
        {
            var (a, b, t) = (i("a"), i("b"), i("t"));
            return new()
            {
                ["expand"] = a.expand(3, 5, 4), ["expand_new"] = a.expand(2, 3, -1, 4), ["expand_as"] = a.expand_as(t),
                ["repeat"] = a.repeat(2, 3, 1), ["flip"] = a.flip(0, 2), ["roll"] = a.roll(1, 0), ["roll_dims"] = a.roll([2, -1], [0, 2]),
                ["roll_flat"] = a.roll(5), ["tril"] = b.tril(), ["triu"] = b.triu(1), ["tril_neg"] = tril(b, -1),
            };
        },
        ["one_hot"] = i =>
        {
            var labels = i("labels");
            return new() { ["fixed"] = one_hot(labels, 7), ["inferred"] = one_hot(labels) };
        },
        ["split_chunk_unbind"] = i =>
        {
            var a = i("a");
            var output = new Dictionary<string, Tensor>();
            var k = 0;
            foreach (var t in a.split(3)) output[$"split{k++}"] = t;
            k = 0;
            foreach (var t in split(a, [2, 5])) output[$"sizes{k++}"] = t * 2;
            k = 0;
            foreach (var t in chunk(a, 3, 1)) output[$"chunk{k++}"] = t * 3;
            k = 0;
            foreach (var t in a.unbind(1)) output[$"unbind{k++}"] = t + 1;
            return output;
        },
    };
}
