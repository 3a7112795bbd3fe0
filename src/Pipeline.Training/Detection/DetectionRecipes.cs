using Pipeline.Training.Recipes;

namespace Pipeline.Training.Detection;

/// <summary>
/// Detection recipes: the built-in detect defaults (sized for a CPU: resnet18 at 128x160, a narrow pyramid and head),
/// then the user's file with its bases, then command-line overrides. Classification defaults do not fit detection
/// (SGD at lr 0.05, accuracy), so detection starts from its own; the <c>detection.*</c> keys default as
/// <see cref="DetectionRecipe"/> says (resize, a 64-channel pyramid, 4-layer head towers).
/// </summary>
public static class DetectionRecipes
{
    public const string DefaultYaml = """
        task: detect
        model:
          name: resnet18
        input:
          size: [128, 160]
          mean: [0.485, 0.456, 0.406]
          std: [0.229, 0.224, 0.225]
        epochs: 12
        batch_size: 16
        optimizer:
          name: adamw
          lr: 0.001
          weight_decay: 0.0001
        schedule:
          name: cosine
          warmup_epochs: 1
        clip_grad_norm: 10
        augment:
          crop_padding: 0
          horizontal_flip: true
        early_stopping:
          metric: map50
          patience: 4
        log_every: 20
        """;

    internal static readonly RecipeText Defaults = new("detect defaults", DefaultYaml);

    /// <summary>The detect defaults, <paramref name="path"/>'s recipe over them (null: none), then <paramref name="overrides"/>.</summary>
    public static Recipe Load(string? path = null, IEnumerable<string>? overrides = null) =>
        RecipeLoader.Load(path, ["task=detect", .. overrides ?? []], Defaults);
}
