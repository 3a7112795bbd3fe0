namespace Pipeline.Storage.Tests;

/// <summary>
/// A source like a network stream: no Length, no seeking, short reads (64 KiB at most). Optionally
/// runs <paramref name="probe"/> once, when a read first passes byte <paramref name="probeAt"/>, and
/// holds that read until the probe is done — to look at the store while an upload is half-way.
/// </summary>
internal sealed class ForwardOnlyStream(byte[] data, long probeAt = long.MaxValue, Func<Task>? probe = null) : Stream
{
    private const int MaxRead = 64 * 1024;
    private int _position;
    private bool _probed;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException("A forward-only source has no length.");

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Stores must read asynchronously.");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var count = Math.Min(Math.Min(buffer.Length, MaxRead), data.Length - _position);
        data.AsMemory(_position, count).CopyTo(buffer);
        _position += count;
        if (!_probed && _position > probeAt && probe is not null)
        {
            _probed = true;
            await probe();
        }

        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
