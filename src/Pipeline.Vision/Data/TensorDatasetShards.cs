using System.Text.Json;
using Pipeline.Vision.Serialization;

namespace Pipeline.Vision.Data;

/// <summary>
/// A prepared split as one safetensors shard: <c>images</c> (N, C, H, W) uint8, <c>labels</c> (N) int64, and the class
/// names in the metadata. What preprocessing writes and trainers and evaluators read.
/// </summary>
public static class TensorDatasetShards
{
    private const string ClassesKey = "classes";

    public static void Write(TensorDataset dataset, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        SafeTensors.Write(stream, new Dictionary<string, TorchSharp.torch.Tensor> { ["images"] = dataset.Images, ["labels"] = dataset.Labels },
            new Dictionary<string, string> { [ClassesKey] = JsonSerializer.Serialize(dataset.Classes) });
    }

    /// <summary>Reads a shard; <paramref name="source"/> names it in errors.</summary>
    public static TensorDataset Read(Stream stream, string source)
    {
        var tensors = SafeTensors.Read(stream, source, out var metadata);
        try
        {
            if (!tensors.TryGetValue("images", out var images) || !tensors.TryGetValue("labels", out var labels))
                throw new InvalidDataException($"{source}: a dataset shard needs 'images' and 'labels' tensors");
            if (!metadata.TryGetValue(ClassesKey, out var classesJson) || JsonSerializer.Deserialize<string[]>(classesJson) is not { } classes)
                throw new InvalidDataException($"{source}: the shard's metadata has no class names");
            return new TensorDataset(images, labels, classes);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }
}
