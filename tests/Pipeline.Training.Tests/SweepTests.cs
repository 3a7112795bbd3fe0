using System.Text.Json.Nodes;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;

namespace Pipeline.Training.Tests;

/// <summary>The sweep file, the planner that turns it into trial recipes, and ASHA's rung decision.</summary>
public sealed class SweepTests
{
    private const string Source = "sweep.yaml";

    // The sweep's own recipe map is the base, as the CLI and the API give it.
    private static SweepPlan Plan(string yaml, string task = "classify")
    {
        var spec = SweepSpec.Parse(yaml, Source);
        return SweepPlanner.Plan(spec, task, spec.InlineRecipe?.ToJsonString(), Source);
    }

    [Theory]
    [InlineData("trials: 2\nspace: {optimizer.lr: [0.1]}\nsearch_kind: grid", "search_kind", "unknown key; a sweep has: recipe, trials")]
    [InlineData("trials: 2\nspace: {optimizer.lr: {normal: [0, 1]}}", "space.optimizer.lr", "unknown distribution 'normal'; known: choice, uniform, log_uniform, int")]
    [InlineData("trials: 2\nspace: {optimizer.lr: {uniform: [0.5, 0.1]}}", "space.optimizer.lr", "uniform: low 0.5 is above high 0.1")]
    [InlineData("trials: 2\nspace: {optimizer.lr: {log_uniform: [0, 0.1]}}", "space.optimizer.lr", "log_uniform needs a low bound above 0, got 0")]
    [InlineData("trials: 2\nspace: {model.width: {int: [4, 8.5]}}", "space.model.width", "int needs whole-number bounds, got [4, 8.5]")]
    [InlineData("space: {optimizer.lr: [0.1, 0.2]}", "trials", "random search needs the number of trials")]
    [InlineData("trials: 2\nscheduler: asha\nasha: {min_epochs: 1, reduction: 1}\nspace: {optimizer.lr: [0.1]}", "asha.reduction", "expected 2 to 100, got 1")]
    public void A_bad_sweep_file_is_refused_naming_the_file_and_the_key(string yaml, string key, string problem)
    {
        var e = Assert.Throws<RecipeException>(() => SweepSpec.Parse(yaml, Source));
        Assert.Equal(key, e.Key);
        Assert.Contains($"{Source}: key '{key}': {problem}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grid_over_a_continuous_range_is_refused_naming_the_key()
    {
        var e = Assert.Throws<RecipeException>(() => Plan("search: grid\nspace: {optimizer.momentum: [0.8, 0.9], optimizer.weight_decay: {uniform: [0, 0.001]}}"));
        Assert.Contains($"{Source}: key 'space.optimizer.weight_decay': grid search needs choices or an int range", e.Message, StringComparison.Ordinal);
    }

    private const string RandomSpace = """
        recipe: {model: {name: small_cnn}, epochs: 3}
        trials: 60
        seed: SEED
        space:
          optimizer.lr: {log_uniform: [0.001, 0.0123456]}
          optimizer.weight_decay: {uniform: [0, 0.001]}
          model.width: {int: [4, 6]}
          optimizer.name: [sgd, adamw]
          optimizer.momentum: {uniform: [0.12345, 0.123456]}
        """;

    private static SweepPlan RandomPlan(int seed)
    {
        var yaml = RandomSpace.Replace("SEED", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var spec = SweepSpec.Parse(yaml, Source);
        return SweepPlanner.Plan(spec, "classify", spec.InlineRecipe!.ToJsonString(), Source);
    }

    private static string Key(SweepTrialPlan t) => t.Describe();

    [Fact]
    public void Random_search_is_reproducible_from_its_seed_and_keeps_every_value_within_its_bounds()
    {
        var plan = RandomPlan(7);
        Assert.Equal(60, plan.Trials.Count);
        Assert.Equal([.. plan.Trials.Select(Key)], RandomPlan(7).Trials.Select(Key));
        Assert.NotEqual([.. plan.Trials.Select(Key)], RandomPlan(8).Trials.Select(Key));

        var lrs = plan.Trials.Select(t => t.Values["optimizer.lr"]!.GetValue<double>()).ToList();
        var decays = plan.Trials.Select(t => t.Values["optimizer.weight_decay"]!.GetValue<double>()).ToList();
        var widths = plan.Trials.Select(t => t.Values["model.width"]!.GetValue<long>()).ToList();
        // The bound with more digits than the drawn values keep is not passed by their rounding.
        Assert.All(lrs, lr => Assert.InRange(lr, 0.001, 0.0123456));
        Assert.All(decays, d => Assert.InRange(d, 0, 0.001));
        // Four significant digits would make every draw of this narrow range 0.1235, past its high end.
        Assert.All(plan.Trials, t => Assert.InRange(t.Values["optimizer.momentum"]!.GetValue<double>(), 0.12345, 0.123456));
        // int ranges include both ends.
        Assert.Equal([4L, 5, 6], widths.Distinct().Order());
        Assert.Equal(["adamw", "sgd"], plan.Trials.Select(t => t.Values["optimizer.name"]!.GetValue<string>()).Distinct().Order());
        // Log-uniform: about as many draws below the geometric middle (~0.0035) as above it, unlike a uniform draw.
        Assert.InRange(lrs.Count(lr => lr < Math.Sqrt(0.001 * 0.0123456)), 15, 45);

        // Each trial's recipe is the base with its values set, and loads as the trial will run it.
        foreach (var trial in plan.Trials)
        {
            var recipe = RecipeLoader.LoadText(trial.RecipeJson, "trial");
            Assert.Equal("small_cnn", recipe.Model.Name);
            Assert.Equal(trial.Values["optimizer.lr"]!.GetValue<double>(), recipe.Optimizer.Lr);
            Assert.Equal(trial.Values["model.width"]!.GetValue<long>(), recipe.Model.Width!.Value);
            Assert.Equal(3, trial.Epochs);
        }
    }

    [Fact]
    public void Grid_search_takes_every_combination_once_and_refuses_a_different_trial_count()
    {
        const string grid = "search: grid\nspace:\n  optimizer.name: [sgd, adamw]\n  model.width: {int: [4, 6]}\n";
        var plan = Plan("recipe: {model: {name: small_cnn}}\n" + grid);
        var points = plan.Trials.Select(t => (t.Values["optimizer.name"]!.GetValue<string>(), t.Values["model.width"]!.GetValue<long>())).ToList();
        Assert.Equal(6, points.Count);
        Assert.Equal(6, points.Distinct().Count());
        Assert.Equal((from n in new[] { "sgd", "adamw" } from w in new[] { 4L, 5, 6 } select (n, w)).Order(), points.Order());
        Assert.Equal([1, 2, 3, 4, 5, 6], plan.Trials.Select(t => t.Number));

        var e = Assert.Throws<RecipeException>(() => Plan("recipe: {model: {name: small_cnn}}\ntrials: 5\n" + grid));
        Assert.Contains($"{Source}: key 'trials': the grid has 6 points but trials is 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_the_recipe_refuses_is_refused_at_planning_naming_the_trial()
    {
        var e = Assert.Throws<RecipeException>(() => Plan("search: grid\nspace: {optimizer.lr: [0.1, -1]}"));
        Assert.Contains($"{Source}: trial 2 (optimizer.lr=-1) makes a recipe that cannot run", e.Message, StringComparison.Ordinal);
        Assert.Contains("optimizer.lr", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be positive", e.Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<RecipeException>(() => Plan("trials: 1\nspace: {optimizer.lrr: [0.1]}"));
        Assert.Contains("trial 1 (optimizer.lrr=0.1)", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_metric_defaults_to_the_recipes_and_must_be_one_of_the_tasks()
    {
        var plan = Plan("trials: 1\nspace: {optimizer.lr: [0.1]}");
        Assert.Equal(("accuracy", MetricMode.Max), (plan.Metric, plan.Mode));
        var loss = Plan("trials: 1\nmetric: loss\nspace: {optimizer.lr: [0.1]}");
        Assert.Equal(MetricMode.Min, loss.Mode);
        var e = Assert.Throws<RecipeException>(() => Plan("trials: 1\nmetric: map\nspace: {optimizer.lr: [0.1]}"));
        Assert.Contains($"{Source}: key 'metric': 'map' is not a validation metric of classify", e.Message, StringComparison.Ordinal);
    }

    private static SweepPlan Ranking(string metric, MetricMode mode) =>
        new(SweepSpec.Parse("trials: 1\nspace: {optimizer.lr: [0.1]}", Source), "classify", metric, mode, []);

    [Fact]
    public void Asha_lets_the_first_trial_at_a_rung_go_on_and_makes_later_ones_beat_the_record()
    {
        var plan = Ranking("accuracy", MetricMode.Max);
        var three = new AshaSettings(MinEpochs: 1, Reduction: 3);
        // Rungs of a 9-epoch trial: epochs 1 and 3 (9 is its end, not a rung).
        Assert.Equal([1, 3], three.Rungs(9));

        var first = Asha.Judge(three, plan, 9, 1, 0.10, []);
        Assert.True(first!.Continue);
        Assert.Equal((1, 1), (first.Rung, first.Epoch));
        // With reduction 3, two trials keep max(1, 2 / 3) = 1: the second must beat the first.
        Assert.False(Asha.Judge(three, plan, 9, 1, 0.40, [0.50])!.Continue);
        Assert.True(Asha.Judge(three, plan, 9, 1, 0.60, [0.50])!.Continue);
        // Six trials keep two: the second best goes on, the third does not.
        double[] five = [0.9, 0.5, 0.4, 0.3, 0.2];
        Assert.True(Asha.Judge(three, plan, 9, 3, 0.6, five)!.Continue);
        var stopped = Asha.Judge(three, plan, 9, 3, 0.45, five)!;
        Assert.False(stopped.Continue);
        Assert.Equal(2, stopped.Rung);
        Assert.Equal("ASHA rung 2 (epoch 3): validation accuracy 0.45 ranks 3 of 6 trials there; the best 2 go on, so this trial stops", stopped.Reason);

        // A trial that diverged stops, even alone at its rung.
        var nan = Asha.Judge(three, plan, 9, 1, double.NaN, [])!;
        Assert.False(nan.Continue);
        Assert.Contains("validation accuracy NaN", nan.Reason, StringComparison.Ordinal);

        // Epochs that are not rungs are not judged.
        Assert.Null(Asha.Judge(three, plan, 9, 2, 0.1, [0.9]));
        Assert.Null(Asha.Judge(three, plan, 9, 9, 0.1, [0.9]));
    }

    [Fact]
    public void Asha_ranks_a_loss_by_its_smallest_value()
    {
        var plan = Ranking("loss", MetricMode.Min);
        var two = new AshaSettings(MinEpochs: 2, Reduction: 2);
        Assert.Equal([2, 4], two.Rungs(5));
        Assert.Null(Asha.Judge(two, plan, 5, 1, 0.3, []));
        Assert.True(Asha.Judge(two, plan, 5, 2, 0.4, [0.5])!.Continue);
        Assert.False(Asha.Judge(two, plan, 5, 2, 0.6, [0.5])!.Continue);
        // A NaN recorded by another trial is beaten by any number.
        Assert.True(Asha.Judge(two, plan, 5, 4, 9.0, [double.NaN])!.Continue);
    }

    [Fact]
    public void A_sweep_that_asha_could_never_judge_is_refused()
    {
        var e = Assert.Throws<RecipeException>(() => Plan("trials: 2\nrecipe: {epochs: 2}\nasha: {min_epochs: 2}\nspace: {optimizer.lr: [0.1]}"));
        Assert.Contains($"{Source}: key 'asha.min_epochs': 2 is not below any trial's epochs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_values_are_set_in_the_base_recipe_and_the_base_keeps_its_other_keys()
    {
        var json = SweepPlanner.TrialRecipe("model: {name: small_cnn, width: 8}\nepochs: 4", new Dictionary<string, JsonNode?> { ["model.width"] = 16, ["optimizer.lr"] = 0.01 }, Source);
        var recipe = RecipeLoader.LoadText(json, "trial");
        Assert.Equal(("small_cnn", 16L, 4, 0.01), (recipe.Model.Name, recipe.Model.Width!.Value, recipe.Epochs, recipe.Optimizer.Lr));
    }
}
