using Pipeline.Training.Detection;

namespace Pipeline.Training.Recipes;

/// <summary>A recipe for a task: detection starts from its own defaults (<see cref="DetectionRecipes"/>), classification
/// from the recipe's. Callers that know only the task name (the API, the CLI's submit) load through here.</summary>
public static class TaskRecipes
{
    public static Recipe Load(string task, string? path, IEnumerable<string> overrides) =>
        task == "detect" ? DetectionRecipes.Load(path, overrides) : RecipeLoader.Load(path, [$"task={task}", .. overrides]);

    public static Recipe LoadText(string task, string? yaml, string source) =>
        task == "detect" ? DetectionRecipes.LoadText(yaml, source) : RecipeLoader.LoadText(yaml ?? "", source, [$"task={task}"]);
}
