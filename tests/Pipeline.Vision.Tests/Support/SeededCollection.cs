namespace Pipeline.Vision.Tests.Support;

/// <summary>
/// libtorch's default generator is process-wide: tests that seed it and compare what it draws (bit-exact
/// initialisation) run alone, never beside tests that draw random numbers.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SeededCollection
{
    public const string Name = "seeded libtorch generator";
}
