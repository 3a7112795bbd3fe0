using Pipeline.Training.Recipes;

namespace Pipeline.Training.Tests;

public class EarlyStoppingTests
{
    [Fact]
    public void Improvement_needs_more_than_min_delta_in_the_metrics_direction_and_patience_counts_epochs_since_the_best()
    {
        var accuracy = new EarlyStoppingRecipe { Metric = "accuracy", Patience = 2, MinDelta = 0.01 };
        Assert.True(EarlyStopping.Improves(accuracy, 0.5, null));
        Assert.False(EarlyStopping.Improves(accuracy, double.NaN, null));
        Assert.False(EarlyStopping.Improves(accuracy, 0.505, 0.5)); // within min_delta
        Assert.True(EarlyStopping.Improves(accuracy, 0.52, 0.5));
        Assert.Equal((1, 2), EarlyStopping.Track(accuracy, [0.50, 0.60, 0.605, 0.59]));
        Assert.True(EarlyStopping.ShouldStop(accuracy, [0.50, 0.60, 0.605, 0.59]));
        Assert.False(EarlyStopping.ShouldStop(accuracy, [0.50, 0.60, 0.605]));
        Assert.Equal((-1, 2), EarlyStopping.Track(accuracy, [double.NaN, double.NaN]));

        var loss = new EarlyStoppingRecipe { Metric = "loss", Patience = 1 };
        Assert.Equal((2, 0), EarlyStopping.Track(loss, [0.9, 0.8, 0.7]));
        Assert.True(EarlyStopping.ShouldStop(loss, [0.9, 0.8, 0.85]));
        Assert.False(EarlyStopping.ShouldStop(loss with { Patience = null }, [0.9, 1.0, 1.1, 1.2]));
    }
}
