namespace Pipeline.Torch;

/// <summary>An error raised by libtorch (bad shape, bad argument, ...), carrying libtorch's own message.</summary>
public sealed class TorchException : Exception
{
    public TorchException() { }
    public TorchException(string message) : base(message) { }
    public TorchException(string message, Exception inner) : base(message, inner) { }
}
