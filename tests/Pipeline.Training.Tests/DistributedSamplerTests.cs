using Pipeline.Training.Data;
using Pipeline.Training.Distributed;

namespace Pipeline.Training.Tests;

public class DistributedSamplerTests
{
    [Fact]
    public void Ranks_take_strided_disjoint_parts_padded_to_equal_length_as_pytorch_does()
    {
        // torch.utils.data.DistributedSampler(range(10), num_replicas=3, shuffle=False): the order padded with its own
        // first items to 12, rank r taking positions r, r+3, ...
        var parts = Enumerable.Range(0, 3).Select(r => new DistributedSampler(new SequentialSampler(10), r, 3).Order(0)).ToArray();
        Assert.Equal([0L, 3, 6, 9], parts[0]);
        Assert.Equal([1L, 4, 7, 0], parts[1]);
        Assert.Equal([2L, 5, 8, 1], parts[2]);
        Assert.All(parts, p => Assert.Equal(4, new DistributedSampler(new SequentialSampler(10), 0, 3).Length));
    }

    [Theory]
    [InlineData(1000, 2)]
    [InlineData(999, 2)]
    [InlineData(1001, 4)]
    public void Shuffled_epochs_are_split_disjointly_cover_the_epoch_reshuffle_and_repeat(int count, int world)
    {
        var inner = new ShuffleSampler(count, seed: 5);
        var padded = (count + world - 1) / world * world;
        foreach (var epoch in new[] { 0, 1, 7 })
        {
            var parts = Enumerable.Range(0, world).Select(r => new DistributedSampler(inner, r, world).Order(epoch)).ToArray();
            Assert.All(parts, p => Assert.Equal(padded / world, p.Length));
            var all = parts.SelectMany(p => p).ToArray();
            // Every item, and only the padding twice.
            Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), all.Distinct().Order());
            Assert.Equal(padded - count, all.Length - all.Distinct().Count());
            // Same (seed, epoch, rank): same part; the union interleaves the single-process order.
            Assert.Equal(parts[world - 1], new DistributedSampler(new ShuffleSampler(count, 5), world - 1, world).Order(epoch));
            var order = inner.Order(epoch);
            for (var k = 0; k < count; k++) Assert.Equal(order[k], parts[k % world][k / world]);
        }
        var rank0 = new DistributedSampler(inner, 0, world);
        Assert.NotEqual(rank0.Order(0), rank0.Order(1));
    }

    [Theory]
    [InlineData(64, 2)]
    [InlineData(65, 2)]
    [InlineData(10, 4)]
    public void Evaluation_parts_count_every_item_exactly_once(int count, int world)
    {
        var parts = Enumerable.Range(0, world).Select(r => new DistributedSampler(new SequentialSampler(count), r, world, padToEqual: false)).ToArray();
        Assert.Equal(count, parts.Sum(p => p.Length));
        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), parts.SelectMany(p => p.Order(0)).Order());
        Assert.All(parts, p => Assert.Equal(p.Length, p.Order(0).Length));
    }

    [Fact]
    public void Settings_come_from_torchrun_variables_and_are_checked()
    {
        Dictionary<string, string?> env = new(StringComparer.Ordinal) { ["RANK"] = "1", ["WORLD_SIZE"] = "2", ["MASTER_ADDR"] = "10.0.0.5", ["MASTER_PORT"] = "29511", ["PIPELINE_DIST_TIMEOUT"] = "7.5" };
        Assert.Equal(new DistributedSettings(1, 2, "10.0.0.5", 29511, TimeSpan.FromSeconds(7.5)), DistributedSettings.FromEnvironment(env));
        Assert.Null(DistributedSettings.FromEnvironment(new Dictionary<string, string?>(StringComparer.Ordinal) { ["RANK"] = "0" }));
        Assert.Equal(new DistributedSettings(0, 1), DistributedSettings.FromEnvironment(new Dictionary<string, string?>(StringComparer.Ordinal) { ["RANK"] = "0", ["WORLD_SIZE"] = "1" }));
        env["LOCAL_RANK"] = "1";
        Assert.Equal(1, DistributedSettings.FromEnvironment(env)!.LocalRank);
        env["LOCAL_RANK"] = "-1";
        Assert.Contains("LOCAL_RANK=-1", Assert.Throws<ArgumentException>(() => DistributedSettings.FromEnvironment(env)).Message, StringComparison.Ordinal);
        env.Remove("LOCAL_RANK");
        env["RANK"] = "2";
        Assert.Contains("RANK=2", Assert.Throws<ArgumentException>(() => DistributedSettings.FromEnvironment(env)).Message, StringComparison.Ordinal);
        env["RANK"] = "0";
        env["PIPELINE_DIST_TIMEOUT"] = "soon";
        Assert.Contains("PIPELINE_DIST_TIMEOUT=soon", Assert.Throws<ArgumentException>(() => DistributedSettings.FromEnvironment(env)).Message, StringComparison.Ordinal);
    }
}
