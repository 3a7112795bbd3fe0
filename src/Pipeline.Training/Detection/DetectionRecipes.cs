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

    /// <summary>As <see cref="Load"/>, for recipe text (a submitted job's); null or blank: the defaults.</summary>
    public static Recipe LoadText(string? yaml, string source, IEnumerable<string>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (string.IsNullOrWhiteSpace(yaml)) return Load(null, overrides);
        var folder = Directory.CreateTempSubdirectory("pipeline-detect-text-").FullName;
        try
        {
            var file = Path.Combine(folder, source.Replace('/', '_') + ".yaml");
            File.WriteAllText(file, yaml);
            try
            {
                return Load(file, overrides);
            }
            catch (RecipeException e)
            {
                throw e.Renamed(file, folder, source);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The detect defaults, <paramref name="path"/>'s recipe over them (null: none), then <paramref name="overrides"/>.</summary>
    public static Recipe Load(string? path = null, IEnumerable<string>? overrides = null)
    {
        if (path is not null && !File.Exists(path)) throw new RecipeException(path, null, "no such recipe file");
        var folder = Directory.CreateTempSubdirectory("pipeline-detect-recipe-").FullName;
        try
        {
            var defaults = Path.Combine(folder, "detect-defaults.yaml");
            File.WriteAllText(defaults, DefaultYaml);
            var top = defaults;
            if (path is not null)
            {
                // The user's file is a base after the defaults, so its keys win and errors still name it.
                top = Path.Combine(folder, "detect-recipe.yaml");
                File.WriteAllText(top, $"_base_:\n  - \"{defaults}\"\n  - \"{Path.GetFullPath(path)}\"\n");
            }
            return RecipeLoader.Load(top, ["task=detect", .. overrides ?? []]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
