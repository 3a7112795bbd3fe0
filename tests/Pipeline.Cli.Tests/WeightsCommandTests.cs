using Pipeline.Vision.Serialization;

namespace Pipeline.Cli.Tests;

public sealed class WeightsCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-weights-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Weights_import_writes_the_imagenet_backbone_where_it_is_told()
    {
        var output = Path.Combine(dir, "sub", "r18.safetensors");
        var (code, stdout, stderr) = CliApp.RunCaptured("weights", "import", "imagenet-resnet18", "--output", output);
        Assert.True(code == 0, stderr);
        Assert.Contains("22 convolutions, 22 batch norms, stages of [2, 2, 2, 3] basic blocks: model resnet18_cntk", stdout, StringComparison.Ordinal);
        Assert.EndsWith($"wrote {output}", stdout.TrimEnd(), StringComparison.Ordinal);
        var weights = SafeTensors.Load(output, out var metadata);
        Assert.Equal("imagenet-resnet18", metadata["backbone"]);
        Assert.Equal([64L, 3, 7, 7], weights["conv1.weight"].shape);
        foreach (var w in weights.Values) w.Dispose();

        var unknown = CliApp.RunCaptured("weights", "import", "imagenet-resnet1000", "--output", output);
        Assert.Equal(2, unknown.Code);
        Assert.Contains("unknown backbone 'imagenet-resnet1000'; known: imagenet-resnet18", unknown.Stderr, StringComparison.Ordinal);
    }
}
