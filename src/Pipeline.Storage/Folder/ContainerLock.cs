namespace Pipeline.Storage;

/// <summary>
/// A cross-process mutex over one container of a folder store: an exclusively opened lock file
/// (.NET takes flock(LOCK_EX) for FileShare.None on Unix). Held only for check-then-rename, so
/// conditional writes and deletes are atomic even when several services share the folder.
/// The kernel drops the lock when a holder dies, so a crash never wedges the store.
/// </summary>
internal static class ContainerLock
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(60);

    public static async Task<IDisposable> AcquireAsync(string lockFile, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        var started = TimeProvider.System.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            try
            {
                return new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
            }
            catch (IOException) when (TimeProvider.System.GetElapsedTime(started) < GiveUpAfter)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
            }
        }
    }
}
