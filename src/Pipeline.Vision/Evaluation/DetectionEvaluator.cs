using Pipeline.Vision.Data;

namespace Pipeline.Vision.Evaluation;

/// <summary>A predicted box (xyxy pixels and class) with its confidence.</summary>
public readonly record struct ScoredBox(BoundingBox Box, double Score);

/// <summary>
/// COCO-style box detection metrics (pycocotools' <c>COCOeval</c> with <c>iouType='bbox'</c>, area range "all"):
/// per image and class, detections sorted by score (at most <see cref="MaxDetections"/>) are matched greedily to the
/// unmatched ground truth of highest IoU at each threshold; a crowd box is an ignore region that any number of
/// detections may match (IoU over the detection's area) and is counted neither as a hit nor a miss. Images are added
/// one at a time with <see cref="Add"/>; <see cref="Report"/> accumulates as <c>COCOeval.accumulate</c> does.
/// Beside COCO's figures, a confusion matrix as Ultralytics draws it (see <see cref="ConfusionThreshold"/>).
/// </summary>
public sealed class DetectionEvaluator
{
    /// <summary>COCO's IoU thresholds .50:.05:.95, computed as numpy's linspace does so that borderline IoUs fall alike.</summary>
    public static readonly IReadOnlyList<double> IouThresholds = PrecisionRecallCurve.Linspace(0.5, 0.95, 10);

    /// <summary>COCO's 101 recall points 0:.01:1, as numpy's linspace computes them.</summary>
    public static readonly IReadOnlyList<double> RecallThresholds = PrecisionRecallCurve.RecallPoints;

    private readonly IReadOnlyList<string> classes;
    // Per class: one entry per image that has ground truth or detections of that class, in the order added.
    private readonly List<ImageResult>[] results;
    // Rows truth, columns prediction, background last.
    private readonly long[,] confusion;
    private int images;

    public DetectionEvaluator(IReadOnlyList<string> classes, int maxDetections = 100, double confusionThreshold = 0.25)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDetections, 1);
        if (!(confusionThreshold is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(confusionThreshold), confusionThreshold, "a score threshold must be in [0, 1]");
        this.classes = classes;
        MaxDetections = maxDetections;
        ConfusionThreshold = confusionThreshold;
        results = new List<ImageResult>[classes.Count];
        for (var c = 0; c < results.Length; c++) results[c] = [];
        confusion = new long[classes.Count + 1, classes.Count + 1];
    }

    /// <summary>Detections kept per image and class, highest scores first (COCO's maxDets, 100).</summary>
    public int MaxDetections { get; }

    /// <summary>
    /// The score a prediction needs to enter the confusion matrix (Ultralytics' 0.25). There, per image, predictions
    /// are matched to regular ground truth of any class at IoU &gt;= <see cref="ConfusionIou"/>, pairs taken greedily by
    /// IoU (highest first, ties by score), each box in at most one pair: a pair counts at [true class, predicted class],
    /// an unmatched box at [its class, background] and an unmatched prediction at [background, its class]. Crowd regions
    /// are left out, and so are unmatched predictions inside one (COCO's ignore rule).
    /// </summary>
    public double ConfusionThreshold { get; }

    /// <summary>The IoU at which a prediction and a ground-truth box pair up in the confusion matrix.</summary>
    public const double ConfusionIou = 0.5;

    /// <summary>
    /// Adds one image: its ground-truth boxes (with <paramref name="crowd"/> flags, all false when empty) and predictions.
    /// </summary>
    public void Add(IReadOnlyList<BoundingBox> truth, IReadOnlyList<ScoredBox> predictions, IReadOnlyList<bool>? crowd = null)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predictions);
        if (crowd is not null && crowd.Count != truth.Count)
            throw new ArgumentException($"{crowd.Count} crowd flags for {truth.Count} ground-truth boxes", nameof(crowd));
        foreach (var box in truth) CheckBox(box, nameof(truth));
        foreach (var p in predictions)
        {
            CheckBox(p.Box, nameof(predictions));
            if (!double.IsFinite(p.Score)) throw new ArgumentException($"a prediction's score must be finite, got {p.Score}", nameof(predictions));
        }
        images++;
        for (var c = 0; c < classes.Count; c++)
        {
            var gts = new List<(BoundingBox Box, bool Crowd)>();
            for (var g = 0; g < truth.Count; g++)
                if (truth[g].ClassId == c) gts.Add((truth[g], crowd is not null && crowd[g]));
            var dts = predictions.Where(p => p.Box.ClassId == c).ToList();
            if (gts.Count == 0 && dts.Count == 0) continue;
            results[c].Add(Match(gts, dts));
        }
        AddToConfusion(truth, predictions, crowd);
    }

    private void AddToConfusion(IReadOnlyList<BoundingBox> truth, IReadOnlyList<ScoredBox> predictions, IReadOnlyList<bool>? crowd)
    {
        var background = classes.Count;
        var gt = Enumerable.Range(0, truth.Count).Where(g => crowd is null || !crowd[g]).Select(g => truth[g]).ToArray();
        var regions = Enumerable.Range(0, truth.Count).Where(g => crowd is not null && crowd[g]).Select(g => truth[g]).ToArray();
        var dt = predictions.Where(p => p.Score >= ConfusionThreshold).ToArray();
        var pairs = new List<(double Iou, double Score, int G, int D)>();
        for (var g = 0; g < gt.Length; g++)
            for (var d = 0; d < dt.Length; d++)
            {
                var iou = Iou(dt[d].Box, gt[g]);
                if (iou >= ConfusionIou) pairs.Add((iou, dt[d].Score, g, d));
            }
        var gtTaken = new bool[gt.Length];
        var dtTaken = new bool[dt.Length];
        foreach (var (_, _, g, d) in pairs.OrderByDescending(p => p.Iou).ThenByDescending(p => p.Score))
        {
            if (gtTaken[g] || dtTaken[d]) continue;
            gtTaken[g] = dtTaken[d] = true;
            confusion[gt[g].ClassId, dt[d].Box.ClassId]++;
        }
        for (var g = 0; g < gt.Length; g++)
            if (!gtTaken[g]) confusion[gt[g].ClassId, background]++;
        for (var d = 0; d < dt.Length; d++)
            if (!dtTaken[d] && !regions.Any(r => Iou(dt[d].Box, r, crowd: true) >= ConfusionIou)) confusion[background, dt[d].Box.ClassId]++;
    }

    private ImageResult Match(List<(BoundingBox Box, bool Crowd)> gts, List<ScoredBox> dts)
    {
        // Regular ground truth first, crowds last (a stable order, as COCO's mergesort): a detection that found a
        // regular box stops before considering ignore regions.
        var gt = gts.Where(g => !g.Crowd).Concat(gts.Where(g => g.Crowd)).ToArray();
        var dt = dts.OrderByDescending(d => d.Score).Take(MaxDetections).ToArray();
        var iou = new double[dt.Length, gt.Length];
        for (var d = 0; d < dt.Length; d++)
            for (var g = 0; g < gt.Length; g++) iou[d, g] = Iou(dt[d].Box, gt[g].Box, gt[g].Crowd);
        var thresholds = IouThresholds.Count;
        var status = new DetectionStatus[thresholds, dt.Length];
        for (var t = 0; t < thresholds; t++)
        {
            var taken = new bool[gt.Length];
            for (var d = 0; d < dt.Length; d++)
            {
                var best = Math.Min(IouThresholds[t], 1 - 1e-10);
                var m = -1;
                for (var g = 0; g < gt.Length; g++)
                {
                    if (taken[g] && !gt[g].Crowd) continue;
                    if (m > -1 && !gt[m].Crowd && gt[g].Crowd) break;
                    if (iou[d, g] < best) continue;
                    best = iou[d, g];
                    m = g;
                }
                if (m == -1)
                {
                    status[t, d] = DetectionStatus.FalsePositive;
                    continue;
                }
                status[t, d] = gt[m].Crowd ? DetectionStatus.Ignored : DetectionStatus.TruePositive;
                taken[m] = true;
            }
        }
        return new ImageResult([.. dt.Select(d => d.Score)], status, gt.Count(g => !g.Crowd));
    }

    /// <summary>IoU of two xyxy boxes; against a crowd region, the intersection over the detection's own area (COCO's iscrowd rule).</summary>
    public static double Iou(BoundingBox detection, BoundingBox truth, bool crowd = false)
    {
        var w = Math.Min(detection.X2, truth.X2) - Math.Max(detection.X1, truth.X1);
        if (w <= 0) return 0;
        var h = Math.Min(detection.Y2, truth.Y2) - Math.Max(detection.Y1, truth.Y1);
        if (h <= 0) return 0;
        var intersection = w * h;
        var detectionArea = detection.Width * detection.Height;
        var union = crowd ? detectionArea : detectionArea + truth.Width * truth.Height - intersection;
        return intersection / union;
    }

    public DetectionReport Report()
    {
        var thresholds = IouThresholds.Count;
        var perClass = new List<DetectionClassMetrics>(classes.Count);
        var apSum = new double[thresholds];
        double recallSum = 0;
        var evaluated = 0;
        for (var c = 0; c < classes.Count; c++)
        {
            var accumulated = Accumulate(results[c]);
            perClass.Add(accumulated.Metrics(classes[c]));
            if (accumulated.GroundTruths == 0) continue;
            evaluated++;
            for (var t = 0; t < thresholds; t++)
            {
                apSum[t] += accumulated.Ap[t];
                recallSum += accumulated.Recall[t];
            }
        }
        double? Mean(double sum, int n) => evaluated == 0 ? null : sum / n;
        return new DetectionReport
        {
            Images = images,
            Map = Mean(apSum.Sum(), evaluated * thresholds),
            Map50 = Mean(apSum[0], evaluated),
            Map75 = Mean(apSum[5], evaluated),
            Ar = Mean(recallSum, evaluated * thresholds),
            MaxDetections = MaxDetections,
            ClassesEvaluated = evaluated,
            IouThresholds = IouThresholds,
            RecallThresholds = RecallThresholds,
            PerClass = perClass,
            Classes = [.. classes],
            ConfusionMatrix = [.. Enumerable.Range(0, classes.Count + 1).Select(t => Enumerable.Range(0, classes.Count + 1).Select(p => confusion[t, p]).ToArray())],
            ConfusionThreshold = ConfusionThreshold,
        };
    }

    private static Accumulated Accumulate(List<ImageResult> images)
    {
        var thresholds = IouThresholds.Count;
        var groundTruths = images.Sum(i => i.GroundTruths);
        // Every image's detections (already score-sorted) in the order added, then one stable sort by score: COCO's order.
        var all = images.SelectMany(i => Enumerable.Range(0, i.Scores.Length).Select(d => (Image: i, Index: d)))
            .OrderByDescending(x => x.Image.Scores[x.Index]).ToArray();
        var scores = all.Select(x => x.Image.Scores[x.Index]).ToArray();
        var ap = new double[thresholds];
        var recall = new double[thresholds];
        var curve50 = new double[RecallThresholds.Count];
        BestF1? best = null;
        for (var t = 0; t < thresholds; t++)
        {
            var rc = new List<double>(all.Length);
            var pr = new List<double>(all.Length);
            double tp = 0, fp = 0;
            for (var k = 0; k < all.Length; k++)
            {
                var s = all[k].Image.Status[t, all[k].Index];
                if (s == DetectionStatus.TruePositive) tp++;
                else if (s == DetectionStatus.FalsePositive) fp++;
                // Ignored detections still hold a place in COCO's cumulative sums (they repeat the previous point).
                rc.Add(groundTruths == 0 ? 0 : tp / groundTruths);
                pr.Add(tp / (tp + fp + Epsilon));
            }
            if (groundTruths == 0) continue;
            recall[t] = rc.Count > 0 ? rc[^1] : 0;
            if (t == 0) best = BestF1At(all, scores, groundTruths);
            // Precision envelope (each point the best precision at this recall or beyond), then sampled at the recall points.
            var sampled = PrecisionRecallCurve.Interpolate(rc, pr, RecallThresholds);
            ap[t] = sampled.Average();
            if (t == 0) curve50 = sampled;
        }
        return new Accumulated(groundTruths, all.Length, ap, recall, curve50, best);
    }

    // np.spacing(1): COCO's guard against 0/0 in precision.
    private const double Epsilon = 2.220446049250313e-16;

    /// <summary>The score threshold (keep predictions scoring at least it) with the highest F1 at IoU .5.</summary>
    private static BestF1? BestF1At((ImageResult Image, int Index)[] all, double[] scores, int groundTruths)
    {
        BestF1? best = null;
        double tp = 0, fp = 0;
        for (var k = 0; k < all.Length; k++)
        {
            var s = all[k].Image.Status[0, all[k].Index];
            if (s == DetectionStatus.TruePositive) tp++;
            else if (s == DetectionStatus.FalsePositive) fp++;
            // A threshold keeps every prediction of an equal score: only the last of a tie is a reachable operating point.
            if (k + 1 < all.Length && scores[k + 1] == scores[k]) continue;
            if (tp == 0) continue;
            var p = tp / (tp + fp);
            var r = tp / groundTruths;
            var f1 = 2 * p * r / (p + r);
            if (best is null || f1 > best.F1) best = new BestF1(scores[k], f1, p, r);
        }
        return best;
    }

    private void CheckBox(BoundingBox box, string name)
    {
        if (box.ClassId < 0 || box.ClassId >= classes.Count)
            throw new ArgumentOutOfRangeException(name, box.ClassId, $"a class index must be in [0, {classes.Count})");
        // A NaN IoU compares as neither below nor above a threshold and would match anything.
        if (!double.IsFinite(box.X1 + box.Y1 + box.X2 + box.Y2)) throw new ArgumentException($"box {box} has a non-finite coordinate", name);
    }

    private enum DetectionStatus : byte { FalsePositive, TruePositive, Ignored }

    /// <summary>One image and class: detection scores (sorted, truncated), their status per IoU threshold, regular GT count.</summary>
    private sealed record ImageResult(double[] Scores, DetectionStatus[,] Status, int GroundTruths);

    private sealed record Accumulated(int GroundTruths, int Detections, double[] Ap, double[] Recall, double[] Curve50, BestF1? Best)
    {
        public DetectionClassMetrics Metrics(string name) => GroundTruths == 0
            ? new DetectionClassMetrics(name, 0, Detections, null, null, null, null, null, null)
            : new DetectionClassMetrics(name, GroundTruths, Detections, Ap.Average(), Ap[0], Ap[5], Recall.Average(), Curve50, Best);
    }
}
