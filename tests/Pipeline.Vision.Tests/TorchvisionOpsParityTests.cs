using Pipeline.Vision;
using System.Globalization;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Vision.Tests.Support;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Pipeline.Vision.Ops;
using ops = TorchSharp.torchvision.ops;

namespace Pipeline.Vision.Tests;

/// <summary>
/// Issue 4: box operators and detection losses against torchvision.ops (Reference/torchvision_ops.py): values, gradients
/// and NMS's kept indices, exactly, on boxes with duplicates, equal scores and zero-area boxes.
/// </summary>
public class TorchvisionOpsParityTests
{
    private static readonly Lazy<Dictionary<string, Tensor>> Values = new(() =>
    {
        var tensors = SafeTensors.Load(Path.Combine(TorchvisionReference.Run("torchvision_ops.py"), "ops.safetensors"));
        foreach (var t in tensors.Values) t.DetachFromDisposeScope();
        return tensors;
    });

    private static Tensor R(string key) => Values.Value.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"the reference has no {key}");

    /// <summary>Checks out/name and, where the reference has them, the gradients of sum(out * w) for each input.</summary>
    private static void CheckWithGrads(string name, Func<Tensor[], Tensor> fn, (string name, Tensor value)[] inputs, double atol = 1e-5, double rtol = 1e-4)
    {
        using var scope = NewDisposeScope();
        var leaves = inputs.Select(i => i.value.clone().requires_grad_()).ToArray();
        var output = fn(leaves);
        TensorAssert.Close(R($"out/{name}"), output, atol, rtol, name);
        (output * R($"w/{name}")).sum().backward();
        var checkedAny = false;
        for (var k = 0; k < inputs.Length; k++)
        {
            if (!Values.Value.TryGetValue($"grad/{name}/{inputs[k].name}", out var expected)) continue;
            TensorAssert.Close(expected, leaves[k].grad!, atol, rtol, $"gradient of {name} for {inputs[k].name}");
            checkedAny = true;
        }
        Assert.True(checkedAny, $"the reference has no gradient for {name}");
    }

    [Fact]
    public void Box_iou_giou_and_area_match_including_degenerate_and_duplicate_boxes()
    {
        using var scope = NewDisposeScope();
        var (a, b) = (R("in/iou_a"), R("in/iou_b"));
        TensorAssert.Close(R("out/box_area"), ops.box_area(a), 0, 0, "box_area");
        var iou = ops.box_iou(a, b);
        TensorAssert.Close(R("out/box_iou"), iou, 1e-6, 1e-6, "box_iou");
        TensorAssert.Close(R("out/generalized_box_iou"), ops.generalized_box_iou(a, b), 1e-6, 1e-6, "generalized_box_iou");
        // The reference does include the cases: a duplicate pair (IoU 1) and zero-area boxes.
        Assert.Equal(1f, iou[5, 3].ToSingle());
        Assert.Equal(0f, ops.box_area(a)[0].ToSingle());
        TensorAssert.Close(R("out/box_iou64"), ops.box_iou(R("in/iou64"), R("in/iou64").flip(0)), 1e-12, 1e-12, "box_iou in float64");
    }

    [Fact]
    public void Box_iou_and_giou_gradients_match()
    {
        var inputs = new[] { ("boxes1", R("in/giou_c")), ("boxes2", R("in/giou_d")) };
        CheckWithGrads("box_iou_grad", x => ops.box_iou(x[0], x[1]), inputs);
        CheckWithGrads("generalized_box_iou_grad", x => ops.generalized_box_iou(x[0], x[1]), inputs);
    }

    [Theory]
    [InlineData("xyxy")]
    [InlineData("xywh")]
    [InlineData("cxcywh")]
    public void Box_conversions_match_every_format_pair(string from)
    {
        using var scope = NewDisposeScope();
        var boxes = R("in/convert");
        foreach (var to in new[] { "xyxy", "xywh", "cxcywh" })
            TensorAssert.Close(R($"out/convert_{from}_{to}"), BoxOps.box_convert(boxes, from, to), 0, 0, $"{from} -> {to}");
        // Round trip back to the format it came from.
        TensorAssert.Close(boxes, BoxOps.box_convert(BoxOps.box_convert(boxes, from, "cxcywh"), "cxcywh", from), 1e-4, 1e-6, $"{from} -> cxcywh -> {from}");
        Assert.Throws<ArgumentException>(() => BoxOps.box_convert(boxes, "xyxy", "yxyx"));
    }

    [Fact]
    public void Clipping_to_the_image_matches()
    {
        using var scope = NewDisposeScope();
        TensorAssert.Close(R("out/clip"), BoxOps.clip_boxes_to_image(R("in/convert") - 20, height: 60, width: 45), 0, 0, "clip_boxes_to_image");
    }

    public static TheoryData<int, double> NmsCases()
    {
        var data = new TheoryData<int, double>();
        foreach (var k in new[] { 0, 1, 2 })
            foreach (var t in new[] { 0.0, 0.3, 0.5, 0.7, 1.0 }) data.Add(k, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(NmsCases))]
    public void Nms_and_batched_nms_keep_torchvisions_indices_in_its_order(int set, double threshold)
    {
        using var scope = NewDisposeScope();
        var (boxes, scores, classes) = (R($"in/nms{set}_boxes"), R($"in/nms{set}_scores"), R($"in/nms{set}_classes"));
        var t = threshold.ToString("0.0", CultureInfo.InvariantCulture);
        Assert.Equal(R($"out/nms{set}_{t}").ToArray<long>(), BoxOps.nms(boxes, scores, threshold).ToArray<long>());
        Assert.Equal(R($"out/batched_nms{set}_{t}").ToArray<long>(), BoxOps.batched_nms(boxes, scores, classes, threshold).ToArray<long>());
    }

    [Fact]
    public void Nms_matches_on_a_thousand_boxes_and_in_float64()
    {
        using var scope = NewDisposeScope();
        var (boxes, scores, classes) = (R("in/nms_big_boxes"), R("in/nms_big_scores"), R("in/nms_big_classes"));
        var kept = BoxOps.batched_nms(boxes, scores, classes, 0.5);
        // torchvision's class-by-class path (over 1000 boxes) keeps the same boxes but orders equal scores by an
        // unstable sort; ours lists them by index, as its other path does.
        Assert.Equal(R("out/batched_nms_big").ToArray<long>().Order(), kept.ToArray<long>().Order());
        Assert.Equal(R("out/batched_nms_big_by_index").ToArray<long>(), kept.ToArray<long>());
        Assert.Equal(R("out/nms_big").ToArray<long>(), BoxOps.nms(boxes, scores, 0.5).ToArray<long>());
        Assert.True(kept.shape[0] > R("out/nms_big").shape[0], "class-wise NMS keeps more than NMS over all classes");
        Assert.Equal(R("out/nms64").ToArray<long>(), BoxOps.nms(R("in/nms64_boxes"), R("in/nms64_scores"), 0.4).ToArray<long>());
    }

    [Fact]
    public void Nms_of_nothing_is_empty_and_bad_shapes_are_refused()
    {
        using var scope = NewDisposeScope();
        var none = BoxOps.nms(zeros(0, 4), zeros(0), 0.5);
        Assert.Equal([0L], none.shape);
        Assert.Equal(ScalarType.Int64, none.dtype);
        Assert.Throws<ArgumentException>(() => BoxOps.nms(zeros(3, 5), zeros(3), 0.5));
        Assert.Throws<ArgumentException>(() => BoxOps.nms(zeros(3, 4), zeros(2), 0.5));
        Assert.Throws<ArgumentException>(() => BoxOps.batched_nms(zeros(3, 4), zeros(3), zeros(2), 0.5));
    }

    [Theory]
    [InlineData("default", 0.25, 2.0, nn.Reduction.None)]
    [InlineData("mean", 0.25, 2.0, nn.Reduction.Mean)]
    [InlineData("sum_a5_g1", 0.5, 1.0, nn.Reduction.Sum)]
    [InlineData("noalpha_g0", -1.0, 0.0, nn.Reduction.None)]
    [InlineData("g15", 0.25, 1.5, nn.Reduction.Mean)]
    public void Sigmoid_focal_loss_and_its_gradients_match(string name, double alpha, double gamma, nn.Reduction reduction) =>
        CheckWithGrads($"focal_{name}", x => ops.sigmoid_focal_loss(x[0], x[1], alpha, gamma, reduction),
            [("inputs", R("in/focal_logits")), ("targets", R("in/focal_hard"))]);

    [Fact]
    public void Sigmoid_focal_loss_with_soft_targets_matches_and_gamma_zero_is_weighted_bce()
    {
        CheckWithGrads("focal_soft", x => ops.sigmoid_focal_loss(x[0], x[1], alpha: 0.25, gamma: 2.0, reduction: nn.Reduction.Sum),
            [("inputs", R("in/focal_logits")), ("targets", R("in/focal_soft"))]);
        using var scope = NewDisposeScope();
        var bce = F.binary_cross_entropy_with_logits(R("in/focal_logits"), R("in/focal_hard"), reduction: nn.Reduction.None);
        TensorAssert.Close(bce, ops.sigmoid_focal_loss(R("in/focal_logits"), R("in/focal_hard"), alpha: -1.0, gamma: 0.0), 1e-6, 1e-6, "gamma 0, no alpha");
    }

    [Theory]
    [InlineData("none", nn.Reduction.None, 1e-7)]
    [InlineData("mean", nn.Reduction.Mean, 1e-7)]
    [InlineData("sum", nn.Reduction.Sum, 1e-7)]
    [InlineData("eps", nn.Reduction.Sum, 1e-3)]
    public void Generalized_box_iou_loss_and_its_gradients_match(string name, nn.Reduction reduction, double eps)
    {
        CheckWithGrads($"giou_loss_{name}", x => BoxOps.generalized_box_iou_loss(x[0], x[1], reduction, eps),
            [("boxes1", R("in/loss_pred")), ("boxes2", R("in/loss_target"))]);
        using var scope = NewDisposeScope();
        var perPair = BoxOps.generalized_box_iou_loss(R("in/loss_pred"), R("in/loss_target"));
        Assert.Equal(0f, perPair[0].ToSingle(), 1e-6f); // identical boxes
        Assert.True(perPair[1].ToSingle() > 1f, "disjoint boxes lose more than 1");
    }

    [Fact]
    public void L1_and_smooth_l1_box_losses_match()
    {
        var inputs = new[] { ("input", R("in/loss_pred")), ("target", R("in/loss_target")) };
        CheckWithGrads("l1_box", x => F.l1_loss(x[0], x[1], nn.Reduction.Sum), inputs);
        CheckWithGrads("smooth_l1_box", x => F.smooth_l1_loss(x[0], x[1], nn.Reduction.Mean, beta: 1.0 / 9), inputs);
    }
}
