using System.Globalization;
using System.Net;

namespace Pipeline.Tests.Support;

/// <summary>The listening sockets of a process, read from outside it (/proc).</summary>
public static class Sockets
{
    /// <summary>The TCP sockets a process listens on, as (address, port): its socket inodes (/proc/PID/fd) looked up in
    /// its network namespace's tables (/proc/PID/net/tcp and tcp6, state 0A = LISTEN).</summary>
    public static List<(IPAddress Address, int Port)> Listening(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                    {
                        inodes.Add(target["socket:[".Length..^1]);
                    }
                }
                catch (IOException)
                {
                    // Closed meanwhile.
                }
            }
        }
        catch (Exception e) when (e is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
        var found = new List<(IPAddress, int)>();
        foreach (var table in (string[])["tcp", "tcp6"])
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines($"/proc/{pid}/net/{table}");
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                continue;
            }
            foreach (var line in lines.Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[3] != "0A" || !inodes.Contains(f[9]))
                {
                    continue;
                }
                var local = f[1].Split(':');
                found.Add((Address(local[0]), int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            }
        }
        return found;
    }

    // The kernel prints addresses as 32-bit words in host (little-endian) order.
    private static IPAddress Address(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4)
        {
            Array.Reverse(bytes, word, 4);
        }
        var address = new IPAddress(bytes);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
