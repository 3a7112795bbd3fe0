using Pipeline.Vision.Data;
using Pipeline.Vision.Sampling;

namespace Pipeline.Vision.Tests;

public class SamplerTests
{
    [Fact]
    public void Shuffled_sampler_is_a_seeded_permutation_per_epoch()
    {
        var sampler = new ShuffledSampler(100, seed: 3);
        var e0 = sampler.Epoch(0);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), e0.Order());
        Assert.Equal(e0, new ShuffledSampler(100, seed: 3).Epoch(0));
        Assert.NotEqual(e0, sampler.Epoch(1));
        Assert.NotEqual(e0, new ShuffledSampler(100, seed: 4).Epoch(0));
    }

    [Fact]
    public void Class_balanced_sampler_draws_classes_about_equally()
    {
        // 900 of class 0, 90 of class 1, 10 of class 2: a long tail of ratio 90.
        var labels = Enumerable.Repeat(0L, 900).Concat(Enumerable.Repeat(1L, 90)).Concat(Enumerable.Repeat(2L, 10)).ToList();
        var sampler = new ClassBalancedSampler(labels, seed: 1, samplesPerEpoch: 30000);
        var drawn = sampler.Epoch(0).GroupBy(i => labels[(int)i]).ToDictionary(g => g.Key, g => g.Count());
        foreach (var c in new[] { 0L, 1, 2 }) Assert.InRange(drawn[c], 9000, 11000);
        Assert.Equal(sampler.Epoch(2), new ClassBalancedSampler(labels, seed: 1, samplesPerEpoch: 30000).Epoch(2));
    }

    [Theory]
    [InlineData(ShardRemainder.Drop)]
    [InlineData(ShardRemainder.Pad)]
    public void Distributed_shards_are_disjoint_equal_and_reshuffled(ShardRemainder remainder)
    {
        const int world = 3;
        const int count = 100;
        for (var epoch = 0; epoch < 2; epoch++)
        {
            var shards = Enumerable.Range(0, world).Select(r => new DistributedSampler(new ShuffledSampler(count, 9), r, world, remainder).Epoch(epoch)).ToList();
            Assert.All(shards, s => Assert.Equal(shards[0].Length, s.Length));
            var all = shards.SelectMany(s => s).ToList();
            if (remainder == ShardRemainder.Drop)
            {
                Assert.Equal(99, all.Count);
                Assert.Equal(all.Count, all.Distinct().Count());
            }
            else
            {
                Assert.Equal(102, all.Count);
                Assert.Equal(count, all.Distinct().Count());
            }
        }
        var first = new DistributedSampler(new ShuffledSampler(count, 9), 0, world, remainder);
        Assert.NotEqual(first.Epoch(0), first.Epoch(1));
    }

    [Fact]
    public void Stratified_split_is_seeded_per_class_and_keeps_given_splits()
    {
        var items = Enumerable.Range(0, 100).Select(k => new DatasetItem { Path = $"{k}.png", Label = k < 80 ? 0 : 1 })
            .Append(new DatasetItem { Path = "given.png", Label = 1, Split = DatasetSplit.Test }).ToList();
        var dataset = new Dataset(TaskKind.Classify, ["many", "few"], items, "test", "memory");
        var split = DatasetSplitter.Stratified(dataset, 0.1, 0.2, seed: 5);
        int Count(DatasetSplit s, int label) => split.Items.Count(i => i.Split == s && i.Label == label && i.Path != "given.png");
        Assert.Equal((8, 16, 56), (Count(DatasetSplit.Val, 0), Count(DatasetSplit.Test, 0), Count(DatasetSplit.Train, 0)));
        Assert.Equal((2, 4, 14), (Count(DatasetSplit.Val, 1), Count(DatasetSplit.Test, 1), Count(DatasetSplit.Train, 1)));
        Assert.Equal(DatasetSplit.Test, split.Items.Single(i => i.Path == "given.png").Split);
        Assert.Equal(split.Items.Select(i => i.Split), DatasetSplitter.Stratified(dataset, 0.1, 0.2, seed: 5).Items.Select(i => i.Split));
        Assert.NotEqual(split.Items.Select(i => i.Split), DatasetSplitter.Stratified(dataset, 0.1, 0.2, seed: 6).Items.Select(i => i.Split));
    }
}
