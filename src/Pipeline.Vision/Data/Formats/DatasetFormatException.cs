namespace Pipeline.Vision.Data.Formats;

/// <summary>A dataset file that cannot be used at all; the message names the file and the problem.</summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string message) : base(message) { }
    public DatasetFormatException(string message, Exception innerException) : base(message, innerException) { }
    public DatasetFormatException() { }
}
