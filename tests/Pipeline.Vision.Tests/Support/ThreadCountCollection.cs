namespace Pipeline.Vision.Tests.Support;

/// <summary>
/// Tests that set libtorch's intra-op thread count, which is process-wide: they run alone, after the parallel ones,
/// so that no other test computes (and compares with a reference) under a thread count it did not choose.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "libtorch thread count";
}
