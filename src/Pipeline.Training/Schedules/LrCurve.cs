namespace Pipeline.Training.Schedules;

/// <summary>The learning rate after warmup as a function of a group's base lr and the steps since warmup ended.</summary>
public abstract record LrCurve
{
    public abstract double Lr(double baseLr, long step);
}

/// <summary>The base lr throughout.</summary>
public sealed record ConstantCurve : LrCurve
{
    public override double Lr(double baseLr, long step) => baseLr;
}

/// <summary>Half a cosine from the base lr down to <paramref name="MinLr"/> over <paramref name="Steps"/> steps, then flat
/// (PyTorch's CosineAnnealingLR, closed form).</summary>
public sealed record CosineCurve(long Steps, double MinLr = 0) : LrCurve
{
    public override double Lr(double baseLr, long step)
    {
        if (Steps <= 0) return baseLr;
        var t = Math.Min(step, Steps);
        return MinLr + (baseLr - MinLr) * (1 + Math.Cos(Math.PI * t / Steps)) / 2;
    }
}

/// <summary>The base lr times gamma for every milestone reached (PyTorch's MultiStepLR).</summary>
public sealed record MultiStepCurve(IReadOnlyList<long> Milestones, double Gamma) : LrCurve
{
    public override double Lr(double baseLr, long step) => baseLr * Math.Pow(Gamma, Milestones.Count(m => m <= step));
}
