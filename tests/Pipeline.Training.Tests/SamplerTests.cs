using Pipeline.Training.Data;
using Pipeline.Training.Recipes;

namespace Pipeline.Training.Tests;

public class SamplerTests
{
    [Fact]
    public void Shuffle_visits_every_item_once_in_an_order_fixed_by_seed_and_epoch()
    {
        var s = new ShuffleSampler(1000, seed: 7);
        var e0 = s.Order(0);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), e0.Order());
        Assert.Equal(e0, new ShuffleSampler(1000, 7).Order(0));
        Assert.NotEqual(e0, s.Order(1));
        Assert.NotEqual(e0, new ShuffleSampler(1000, 8).Order(0));
    }

    [Fact]
    public void Class_balanced_sampling_draws_rare_classes_as_often_as_common_ones()
    {
        // 900 of class 0, 90 of class 1, 10 of class 2.
        var labels = Enumerable.Repeat(0L, 900).Concat(Enumerable.Repeat(1L, 90)).Concat(Enumerable.Repeat(2L, 10)).ToArray();
        var order = new ClassBalancedSampler(labels, seed: 1).Order(0);
        Assert.Equal(1000, order.Length);
        var perClass = order.GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(perClass.Values, n => Assert.InRange(n, 270, 400));
        Assert.Equal(10, order.Where(i => labels[i] == 2).Distinct().Count());
    }

    [Fact]
    public void Class_weights_follow_inverse_frequency_and_effective_number()
    {
        var inverse = ClassWeights.From([100, 300, 0], ClassWeighting.InverseFrequency)!;
        // raw 1/100 and 1/300, scaled to average 1 over the two present classes: 1.5 and 0.5.
        Assert.Equal(1.5, inverse[0], 12);
        Assert.Equal(0.5, inverse[1], 12);
        Assert.Equal(0, inverse[2]);
        var effective = ClassWeights.From([1, 2], ClassWeighting.EffectiveNumber, beta: 0.5)!;
        // (1 - b) / (1 - b^n): 1 and 2/3, scaled to sum 2: 1.2 and 0.8.
        Assert.Equal(1.2, effective[0], 12);
        Assert.Equal(0.8, effective[1], 12);
        Assert.Null(ClassWeights.From([1, 2], ClassWeighting.None));
    }
}
