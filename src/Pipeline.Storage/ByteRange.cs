namespace Pipeline.Storage;

/// <summary>
/// A part of a blob: <paramref name="Length"/> bytes from <paramref name="Offset"/>, or to the end when
/// Length is null. A range running past the end gives the bytes that exist; one starting past the end fails.
/// </summary>
public readonly record struct ByteRange(long Offset, long? Length = null)
{
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Offset, nameof(Offset));
        if (Length is { } length)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length, nameof(Length));
        }
    }
}
