namespace Pipeline.Torch;

/// <summary>
/// A collective, rendezvous or store operation failed: a peer died, timed out, or the store host is gone. The message
/// names what failed, on which rank, and the lost ranks (also in <see cref="LostRanks"/>), so that a caller can
/// re-form the group from its last checkpoint.
/// </summary>
public sealed class DistributedException : Exception
{
    public DistributedException() { }
    public DistributedException(string message) : base(message) { }
    public DistributedException(string message, Exception inner) : base(message, inner) { }
    public DistributedException(string message, IReadOnlyList<int> lostRanks) : base(message) => LostRanks = lostRanks;

    /// <summary>The ranks found lost when the operation failed (empty when none could be named).</summary>
    public IReadOnlyList<int> LostRanks { get; } = [];
}
