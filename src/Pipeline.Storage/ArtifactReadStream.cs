namespace Pipeline.Storage;

/// <summary>
/// What a download returns: a forward-only view of exactly <see cref="Length"/> bytes of an inner
/// stream, which owns (and on dispose releases) whatever holds that stream open — a file handle or
/// an HTTP response.
/// </summary>
internal sealed class ArtifactReadStream(Stream inner, long length, IDisposable? owner = null) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("A download stream reads forward only.");
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer[..Allowed(buffer.Length)]);
        return Advance(read, buffer.Length);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer[..Allowed(buffer.Length)], cancellationToken).ConfigureAwait(false);
        return Advance(read, buffer.Length);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A download stream reads forward only.");
    public override void SetLength(long value) => throw new NotSupportedException("A download stream is read-only.");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A download stream is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            owner?.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Allowed(int requested) => (int)Math.Min(requested, length - _position);

    private int Advance(int read, int requested)
    {
        _position += read;
        // A source that ends early has lost bytes (a dropped connection, a truncated file): say so
        // rather than hand the caller a silently short artifact.
        if (read == 0 && requested > 0 && _position < length)
        {
            throw new EndOfStreamException($"The artifact stream ended after {_position} of {length} bytes.");
        }

        return read;
    }
}
