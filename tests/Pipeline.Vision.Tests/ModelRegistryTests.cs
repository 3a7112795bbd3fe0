using TorchSharp;
using Pipeline.Vision.Models;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

public class ModelRegistryTests
{
    [Fact]
    public void Small_cnn_maps_grey_28x28_images_and_colour_images_of_another_size_to_logits()
    {
        using var scope = NewDisposeScope();
        using var grey = ModelRegistry.Create("small_cnn", new ModelSpec(1, 10));
        using var colour = ModelRegistry.Create("small_cnn", new ModelSpec(3, 5, Width: 8));
        Assert.Equal([4L, 10], grey.call(randn(4, 1, 28, 28)).shape);
        Assert.Equal([2L, 5], colour.call(randn(2, 3, 40, 24)).shape);
    }

    [Fact]
    public void Cnn6_is_small_cnn_with_a_third_stage_of_twice_the_channels()
    {
        using var scope = NewDisposeScope();
        using var small = ModelRegistry.Create("small_cnn", new ModelSpec(1, 10));
        using var model = ModelRegistry.Create("cnn6", new ModelSpec(1, 10));
        Assert.Equal([4L, 10], model.call(randn(4, 1, 28, 28)).shape);
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        // Stage by stage: conv/BN/ReLU, conv/BN/ReLU, max-pool; the first two stages are small_cnn's, names included.
        foreach (var (name, parameter) in small.named_parameters().Where(p => p.name.StartsWith("features.", StringComparison.Ordinal)))
            Assert.Equal(parameter.shape, shapes[name]);
        Assert.Equal([128L, 64, 3, 3], shapes["features.6.0.weight"]);
        Assert.Equal([128L, 128, 3, 3], shapes["features.7.0.weight"]);
        Assert.Equal([10L, 128], shapes["head.1.weight"]);
        Assert.Equal(6, shapes.Keys.Count(n => n.EndsWith(".0.weight", StringComparison.Ordinal) && n.StartsWith("features.", StringComparison.Ordinal)));
    }

    [Fact]
    public void Resnet20_has_the_papers_layout_with_projection_shortcuts()
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create("resnet20", new ModelSpec(3, 10));
        Assert.Equal([2L, 10], model.call(randn(2, 3, 32, 32)).shape);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        // 3 stages x 3 blocks x 2 convs + stem = 19 convolutions, plus the head: 20 weighted layers.
        Assert.Equal(19, names.Count(n => n.EndsWith("conv1.weight", StringComparison.Ordinal) || n.EndsWith("conv2.weight", StringComparison.Ordinal)));
        Assert.Contains("layer2.0.downsample.0.weight", names);
        Assert.Contains("layer3.2.bn2.bias", names);
        Assert.DoesNotContain("layer1.0.downsample.0.weight", names);
        // 269,722 parameters with the paper's zero-padding shortcuts, plus the two 1x1 projections with their batch norms.
        Assert.Equal(269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64), model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void A_cifar_resnets_width_scales_its_three_stages()
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create("resnet20", new ModelSpec(1, 10, Width: 8));
        Assert.Equal([2L, 10], model.call(randn(2, 1, 28, 28)).shape);
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([8L, 1, 3, 3], shapes["conv1.weight"]);
        Assert.Equal([16L, 8, 3, 3], shapes["layer2.0.conv1.weight"]);
        Assert.Equal([10L, 32], shapes["fc.weight"]);
    }

    [Theory]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet34", 21_797_672)]
    [InlineData("resnet50", 25_557_032)]
    public void Imagenet_resnets_have_torchvisions_parameter_counts(string name, long parameters)
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create(name, new ModelSpec(3, 1000));
        Assert.Equal(parameters, model.parameters().Sum(p => p.numel()));
        Assert.Contains(name == "resnet50" ? "layer4.2.bn3.running_var" : "layer4.1.bn2.running_var", model.state_dict().Keys);
    }

    [Fact]
    public void Resnet18_cntk_is_torchvisions_resnet18_with_a_third_block_in_layer4()
    {
        using var scope = NewDisposeScope();
        using var cntk = (ResNet)ModelRegistry.Create("resnet18_cntk", new ModelSpec(3, 1000));
        using var resnet18 = (ResNet)ModelRegistry.Create("resnet18", new ModelSpec(3, 1000));
        Assert.Equal([2, 2, 2, 3], cntk.StageBlocks);
        Assert.Empty(resnet18.state_dict().Keys.Except(cntk.state_dict().Keys));
        Assert.All(cntk.state_dict().Keys.Except(resnet18.state_dict().Keys), k => Assert.StartsWith("layer4.2.", k, StringComparison.Ordinal));
        // The extra block: two 512-channel 3x3 convolutions and their batch norms.
        Assert.Equal(11_689_512 + 2 * (512 * 512 * 9 + 2 * 512), cntk.parameters().Sum(p => p.numel()));
        Assert.Equal([2L, 1000], cntk.call(randn(2, 3, 64, 64)).shape);
    }

    [Fact]
    public void Resnet18_takes_grey_28x28_images_and_trains_every_parameter()
    {
        using var scope = NewDisposeScope();
        // Fashion-MNIST size: the stem and four stages bring 28x28 down to 1x1 before pooling.
        using var model = ModelRegistry.Create("resnet18", new ModelSpec(1, 10));
        var logits = model.call(randn(4, 1, 28, 28));
        Assert.Equal([4L, 10], logits.shape);
        nn.functional.cross_entropy(logits, tensor(new long[] { 0, 1, 2, 3 })).backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void Resnet_backbone_freezes_and_unfreezes_from_a_stage_upwards()
    {
        using var scope = NewDisposeScope();
        using var model = ResNet.resnet18(classes: 10).freeze_backbone();
        string[] Trainable() => [.. model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name.Split('.')[0]).Distinct()];
        Assert.Equal(["fc"], Trainable());
        nn.functional.cross_entropy(model.call(randn(2, 3, 64, 64)), tensor(new long[] { 0, 1 })).backward();
        Assert.All(model.named_parameters(), p => Assert.Equal(p.name.StartsWith("fc.", StringComparison.Ordinal), p.parameter.grad is not null));
        model.unfreeze_from("layer3");
        Assert.Equal(["layer3", "layer4", "fc"], Trainable());
        model.unfreeze_from("conv1");
        Assert.Equal(model.named_parameters().Count(), model.parameters().Count(p => p.requires_grad));
        Assert.Throws<ArgumentException>(() => model.unfreeze_from("layer5"));
    }

    [Fact]
    public void A_model_backpropagates_into_every_parameter()
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create("resnet20", new ModelSpec(1, 10));
        var loss = nn.functional.cross_entropy(model.call(randn(4, 1, 28, 28)), tensor(new long[] { 0, 1, 2, 3 }));
        loss.backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void An_unknown_name_is_refused_listing_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Create("resnet21", new ModelSpec(3, 10)));
        Assert.Contains("unknown model 'resnet21'", e.Message, StringComparison.Ordinal);
        Assert.Contains("resnet20", e.Message, StringComparison.Ordinal);
        Assert.Contains("small_cnn", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_depth_that_is_not_6n_plus_2_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CifarResNet(depth: 21));
}
