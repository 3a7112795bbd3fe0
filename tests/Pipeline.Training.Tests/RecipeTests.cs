using Pipeline.Vision.Data;
using Pipeline.Training.Recipes;

namespace Pipeline.Training.Tests;

public sealed class RecipeTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recipe-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Defaults_describe_a_classify_run_without_any_file()
    {
        var r = RecipeLoader.Load();
        Assert.Equal(TaskKind.Classify, r.Task);
        Assert.Equal("resnet20", r.Model.Name);
        Assert.Equal(12, r.Epochs);
        Assert.Equal(OptimizerKind.Sgd, r.Optimizer.Name);
        Assert.Equal(ScheduleKind.Cosine, r.Schedule.Name);
        Assert.Equal("accuracy", r.EarlyStopping.Metric);
    }

    [Fact]
    public void A_file_inherits_its_bases_in_order_and_later_keys_win_with_maps_merged_deeply()
    {
        Write("bases/common.yaml", """
            epochs: 5
            batch_size: 64
            optimizer: { name: sgd, lr: 0.1, momentum: 0.8 }
            augment: { crop_padding: 4 }
            """);
        Write("bases/long.yaml", """
            epochs: 30
            schedule: { name: multi_step, milestones: [10, 20] }
            """);
        var path = Write("run.yaml", """
            _base_: [bases/common.yaml, bases/long.yaml]
            optimizer:
              lr: 0.2
            augment:
              horizontal_flip: false
            """);
        var r = RecipeLoader.Load(path);
        Assert.Equal(30, r.Epochs);
        Assert.Equal(64, r.BatchSize);
        Assert.Equal(0.2, r.Optimizer.Lr);
        Assert.Equal(0.8, r.Optimizer.Momentum);
        Assert.Equal(4, r.Augment.CropPadding);
        Assert.False(r.Augment.HorizontalFlip);
        Assert.Equal(ScheduleKind.MultiStep, r.Schedule.Name);
        Assert.Equal([10, 20], r.Schedule.Milestones);
    }

    [Fact]
    public void Command_line_overrides_win_over_the_file_and_parse_as_yaml_values()
    {
        var path = Write("run.yaml", "optimizer: { lr: 0.2 }\nepochs: 3\n");
        var r = RecipeLoader.Load(path, ["--optimizer.lr=0.01", "schedule.name=multi_step", "schedule.milestones=[2, 4]",
            "clip_grad_norm=5", "model.pretrained=null", "freeze=[{modules: [features], until_epoch: 2}]"]);
        Assert.Equal(0.01, r.Optimizer.Lr);
        Assert.Equal(3, r.Epochs);
        Assert.Equal(ScheduleKind.MultiStep, r.Schedule.Name);
        Assert.Equal([2, 4], r.Schedule.Milestones);
        Assert.Equal(5.0, r.ClipGradNorm);
        Assert.Equal(["features"], Assert.Single(r.Freeze).Modules);
        Assert.Equal(2, r.Freeze[0].UntilEpoch);
    }

    [Fact]
    public void A_json_recipe_loads_and_the_written_resolved_recipe_loads_back_unchanged()
    {
        var path = Write("run.json", """{ "epochs": 7, "optimizer": { "name": "adamw", "lr": 0.001 }, "sampler": "class_balanced" }""");
        var r = RecipeLoader.Load(path, ["input.size=[32, 32]"]);
        Assert.Equal(OptimizerKind.Adamw, r.Optimizer.Name);
        Assert.Equal(SamplerKind.ClassBalanced, r.Sampler);
        var json = RecipeWriter.ToJson(r);
        var again = RecipeLoader.Load(Write("resolved.json", json));
        Assert.Equal(json, RecipeWriter.ToJson(again));
        Assert.Contains("\"sampler\": \"class_balanced\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_names_the_file_that_set_it_and_the_key()
    {
        var basePath = Write("base.yaml", "optimizer: { lrr: 0.1 }\n");
        var path = Write("run.yaml", "_base_: base.yaml\nepochs: 2\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(path));
        Assert.Equal(basePath, e.Source);
        Assert.Equal("optimizer.lrr", e.Key);
        Assert.Contains(basePath, e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown key", e.Message, StringComparison.Ordinal);
        Assert.Contains("lr", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_file_and_key()
    {
        var path = Write("run.yaml", "epochs: ten\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(path));
        Assert.Equal($"{path}: key 'epochs': expected an integer, got \"ten\"", e.Message);

        var nested = Write("nested.yaml", "schedule: { milestones: [3, x] }\n");
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(nested));
        Assert.Equal("schedule.milestones[1]", e.Key);
        Assert.Contains(nested, e.Message, StringComparison.Ordinal);

        var badEnum = Write("enum.yaml", "optimizer: { name: lbfgs }\n");
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(badEnum));
        Assert.Contains("'lbfgs' is not one of: sgd, adamw", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cycle_of_bases_is_refused_naming_the_file_and_the_chain()
    {
        var a = Write("a.yaml", "_base_: b.yaml\n");
        var b = Write("b.yaml", "_base_: [a.yaml]\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(a));
        Assert.Equal(b, e.Source);
        Assert.Equal("_base_", e.Key);
        Assert.Contains($"cycle: {a} -> {b} -> {a}", e.Message, StringComparison.Ordinal);

        var self = Write("self.yaml", "_base_: self.yaml\n");
        Assert.Contains("cycle", Assert.Throws<RecipeException>(() => RecipeLoader.Load(self)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_base_file_is_refused_naming_the_including_file()
    {
        var path = Write("run.yaml", "_base_: [nowhere.yaml]\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(path));
        Assert.Equal(path, e.Source);
        Assert.Equal("_base_", e.Key);
        Assert.Contains(Path.Combine(dir, "nowhere.yaml"), e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_overrides_name_the_command_line_and_the_key()
    {
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["optimizer.lrr=1"]));
        Assert.Equal(RecipeLoader.CommandLine, e.Source);
        Assert.Equal("optimizer.lrr", e.Key);
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["batch_size=big"]));
        Assert.Equal("command line: key 'batch_size': expected an integer, got \"big\"", e.Message);
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["epochs"]));
        Assert.Contains("key.sub=value", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["epochs.sub=1"]));
        Assert.Equal("epochs", e.Key![..6]);
    }

    [Fact]
    public void Values_out_of_range_and_unknown_names_are_refused_naming_file_and_key()
    {
        var path = Write("run.yaml", "epochs: 0\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(path));
        Assert.Equal($"{path}: key 'epochs': must be at least 1, got 0", e.Message);
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["model.name=vgg"]));
        Assert.Equal("model.name", e.Key);
        Assert.Contains("resnet20", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["early_stopping.metric=auc"]));
        Assert.Equal("early_stopping.metric", e.Key);
    }

    [Fact]
    public void Malformed_yaml_and_a_missing_file_are_reported_with_the_path()
    {
        var path = Write("broken.yaml", "epochs: [1, 2\n");
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.Load(path));
        Assert.StartsWith($"{path}: invalid YAML", e.Message, StringComparison.Ordinal);
        var missing = Path.Combine(dir, "absent.yaml");
        Assert.Equal($"{missing}: no such recipe file", Assert.Throws<RecipeException>(() => RecipeLoader.Load(missing)).Message);
    }

    [Theory]
    [InlineData("/etc/hostname")]
    [InlineData("/dev/zero")]
    [InlineData("/no/such/file.yaml")]
    public void Submitted_text_never_opens_a_base_and_says_the_same_whether_the_file_exists(string basePath)
    {
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.LoadText($"_base_: {basePath}\nepochs: 2\n", "recipe"));
        Assert.Equal("recipe", e.Source);
        Assert.Equal("_base_", e.Key);
        Assert.DoesNotContain(basePath, e.Message, StringComparison.Ordinal);
        Assert.Contains("self-contained", e.Message, StringComparison.Ordinal);
        // The detect defaults sit below the text without opening a file either.
        Assert.Equal("_base_", Assert.Throws<RecipeException>(() => TaskRecipes.LoadText("detect", $"_base_: [{basePath}]", "recipe")).Key);
    }

    [Fact]
    public void Submitted_text_errors_name_the_given_source_not_a_server_file()
    {
        var e = Assert.Throws<RecipeException>(() => RecipeLoader.LoadText("epochs: many\n", "recipe"));
        Assert.Equal("recipe: key 'epochs': expected an integer, got \"many\"", e.Message);
        e = Assert.Throws<RecipeException>(() => TaskRecipes.LoadText("detect", "epochs: [1, 2\n", "recipe"));
        Assert.StartsWith("recipe: invalid YAML", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, TaskRecipes.LoadText("detect", "epochs: 3", "recipe").Epochs);
        Assert.Equal(TaskKind.Detect, TaskRecipes.LoadText("detect", "", "recipe").Task);
    }

    [Fact]
    public void Oversized_deep_and_exploding_recipes_are_refused_without_exhausting_the_process()
    {
        var big = "epochs: 2\n" + new string('#', RecipeDocument.MaxBytes) + "\n";
        Assert.Contains("over the limit", Assert.Throws<RecipeException>(() => RecipeLoader.LoadText(big, "recipe")).Message, StringComparison.Ordinal);
        // A device is read only to the limit.
        Assert.Contains("over the limit", Assert.Throws<RecipeException>(() => RecipeLoader.Load("/dev/zero")).Message, StringComparison.Ordinal);
        // Nesting deep enough to overflow a recursive reader's stack.
        var deep = "x: " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        Assert.Contains("nest deeper", Assert.Throws<RecipeException>(() => RecipeLoader.LoadText(deep, "recipe")).Message, StringComparison.Ordinal);
        var deepJson = "{\"x\": " + new string('[', 1000) + new string(']', 1000) + "}";
        Assert.Throws<RecipeException>(() => RecipeLoader.Load(Write("deep.json", deepJson)));
        // "Billion laughs": ten aliases of ten aliases... expand to 10^9 values.
        var laughs = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var k = 1; k <= 9; k++)
            laughs.Append(System.Globalization.CultureInfo.InvariantCulture, $"a{k}: &a{k} [{string.Join(", ", Enumerable.Repeat($"*a{k - 1}", 10))}]\n");
        Assert.Contains("expands to more than", Assert.Throws<RecipeException>(() => RecipeLoader.LoadText(laughs.ToString(), "recipe")).Message, StringComparison.Ordinal);
    }
}
