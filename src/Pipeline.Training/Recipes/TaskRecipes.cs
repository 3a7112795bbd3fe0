using Pipeline.Training.Detection;

namespace Pipeline.Training.Recipes;

/// <summary>A recipe for a task: detection starts from its own defaults (<see cref="DetectionRecipes"/>), classification
/// from the recipe's. Callers that know only the task name (the API, the CLI's submit) load through here.</summary>
public static class TaskRecipes
{
    public static Recipe Load(string task, string? path, IEnumerable<string> overrides) =>
        ForTask(task, RecipeLoader.Compose(path, null, Under(task)), overrides);

    public static Recipe LoadText(string task, string? yaml, string source) =>
        ForTask(task, RecipeLoader.ComposeText(yaml, source, Under(task)), []);

    private static RecipeText? Under(string task) => task == "detect" ? DetectionRecipes.Defaults : null;

    // Checked before the overrides: the command line may restate the run's task, which says nothing of the recipe's.
    private static Recipe ForTask(string task, RecipeDocument document, IEnumerable<string> overrides)
    {
        CheckTask(task, document.Root, document.OriginOf("task"));
        RecipeLoader.ApplyOverrides(document, [$"task={task}", .. overrides]);
        return RecipeLoader.Bind(document);
    }

    // The run's task wins over the recipe's task key, so a recipe for another (or no known) task is refused, not overruled.
    private static void CheckTask(string task, System.Text.Json.Nodes.JsonObject recipe, string source)
    {
        if (!recipe.TryGetPropertyValue("task", out var node) || node is null) return;
        var named = node is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var text) ? text.ToLowerInvariant() : node.ToJsonString();
        if (named is not ("classify" or "detect")) throw new RecipeException(source, "task", $"expected classify or detect, got {node.ToJsonString()}");
        if (named != task) throw new RecipeException(source, "task", $"the recipe is for {named} but the run's task is {task}");
    }
}
