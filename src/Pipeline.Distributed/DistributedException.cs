namespace Pipeline.Distributed;

/// <summary>A collective, rendezvous or store request failed; <see cref="LostRanks"/> names the ranks found gone.</summary>
public sealed class DistributedException : Exception
{
    public DistributedException() { }

    public DistributedException(string message) : base(message) { }

    public DistributedException(string message, Exception inner) : base(message, inner) { }

    public DistributedException(string message, IReadOnlyList<int> lostRanks) : base(message) => LostRanks = lostRanks;

    public IReadOnlyList<int> LostRanks { get; } = [];
}
