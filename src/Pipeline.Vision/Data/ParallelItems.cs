using System.Runtime.ExceptionServices;

namespace Pipeline.Vision.Data;

/// <summary>Work on a dataset's items spread over every core, failing as one item would: the first item's exception
/// (a decode error naming its file) is thrown as itself, not wrapped in an <see cref="AggregateException"/>.</summary>
internal static class ParallelItems
{
    public static void For(int count, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw; // not reached: Throw() always throws
        }
    }
}
