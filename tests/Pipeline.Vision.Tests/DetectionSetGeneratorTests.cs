using System.Security.Cryptography;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Data.Validation;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

public class DetectionSetGeneratorTests
{
    private static readonly DetectionSetOptions Small = new() { Seed = 42, TrainImages = 12, ValImages = 4, Width = 96, Height = 80, MinSide = 20, MaxSide = 40 };

    private static string Fingerprint(string folder) => Convert.ToHexString(SHA256.HashData(
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .SelectMany(f => System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(folder, f)).Concat(File.ReadAllBytes(f))).ToArray()));

    [Fact]
    public void The_set_is_fully_determined_by_its_seed()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        using var c = new TempFolder();
        var generator = new DetectionSetGenerator();
        generator.Write(a.Path, Small);
        generator.Write(b.Path, Small);
        generator.Write(c.Path, Small with { Seed = 43 });
        Assert.Equal(Fingerprint(a.Path), Fingerprint(b.Path));
        Assert.NotEqual(Fingerprint(a.Path), Fingerprint(c.Path));
    }

    [Fact]
    public void Coco_and_paligemma_outputs_load_validate_and_agree()
    {
        using var folder = new TempFolder();
        var truth = new DetectionSetGenerator().Write(folder.Path, Small);
        Assert.Equal(16, truth.Items.Count);
        Assert.True(truth.Items.Sum(i => i.Boxes.Count) >= 16);
        Assert.Contains(truth.Items, i => i.Boxes.Count > 1);
        using var source = new FolderSource(folder.Path);
        var coco = DatasetLoader.Load(source, "coco");
        var pali = DatasetLoader.Load(source, "paligemma");
        var validated = new DatasetValidator().Validate(source, coco);
        Assert.Empty(validated.Report.Problems);
        Assert.Equal(FashionMnist.ClassNames, coco.Dataset.Classes);
        foreach (var item in truth.Items)
        {
            var fromCoco = Assert.Single(coco.Dataset.Items, i => i.Path == item.Path);
            var fromPali = Assert.Single(pali.Dataset.Items, i => i.Path == item.Path);
            Assert.Equal(item.Split, fromCoco.Split);
            Assert.Equal(item.Boxes, fromCoco.Boxes);
            Assert.Equal(item.Boxes.Select(b => b.ClassId), fromPali.Boxes.Select(b => b.ClassId));
            Assert.All(item.Boxes.Zip(fromPali.Boxes), p => Assert.InRange(Math.Abs(p.First.X1 - p.Second.X1), 0, 96 / 1024.0));
        }
    }
}
