using System.Buffers.Binary;
using System.Text;

namespace Pipeline.ElfPatch;

/// <summary>One version an ELF64 object needs from a library (a Vernaux entry of <c>.gnu.version_r</c>).</summary>
/// <param name="File">The library, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="Flags">vna_flags: <see cref="ElfVersionNeeds.Weak"/> means the loader does not insist on it.</param>
/// <param name="FlagsOffset">Where vna_flags sits in the file.</param>
public sealed record VersionNeed(string File, string Version, ushort Flags, long FlagsOffset)
{
    public bool IsWeak => (Flags & ElfVersionNeeds.Weak) != 0;
}

public enum WeakenResult
{
    /// <summary>The flag was set now.</summary>
    Weakened,
    /// <summary>The need was weak already: nothing changed.</summary>
    AlreadyWeak,
}

/// <summary>
/// Reads and edits the version needs (<c>.gnu.version_r</c>, SHT_GNU_verneed) of a little-endian ELF64 image.
/// Marking a need VER_FLG_WEAK makes the dynamic loader accept a library that lacks that version (glibc's
/// dl-version.c only reports it), which is all a binary needs when none of its calls bind to that version.
/// </summary>
public static class ElfVersionNeeds
{
    public const ushort Weak = 0x2; // VER_FLG_WEAK
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const int VerneedSize = 16, VernauxSize = 16;

    public static IReadOnlyList<VersionNeed> Read(ReadOnlySpan<byte> elf)
    {
        var needs = new List<VersionNeed>();
        if (!TryFindVerneed(elf, out var section, out var count, out var strtab)) return needs;
        var at = section;
        for (var i = 0; i < count; i++)
        {
            var cnt = U16(elf, at + 2);
            var file = Str(elf, strtab + U32(elf, at + 4));
            var aux = at + U32(elf, at + 8);
            for (var j = 0; j < cnt; j++)
            {
                needs.Add(new VersionNeed(file, Str(elf, strtab + U32(elf, aux + 8)), U16(elf, aux + 4), aux + 4));
                var nextAux = U32(elf, aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            var next = U32(elf, at + 12);
            if (next == 0) break;
            at += next;
        }
        return needs;
    }

    /// <summary>Sets VER_FLG_WEAK on every need of <paramref name="version"/>; throws when there is none.</summary>
    public static WeakenResult Weaken(Span<byte> elf, string version)
    {
        var matches = Read(elf).Where(n => n.Version == version).ToList();
        if (matches.Count == 0)
            throw new InvalidDataException($"the image needs no version '{version}' (its needs: {string.Join(", ", Read(elf).Select(n => n.Version))})");
        if (matches.All(n => n.IsWeak)) return WeakenResult.AlreadyWeak;
        foreach (var n in matches)
            BinaryPrimitives.WriteUInt16LittleEndian(elf.Slice(Checked(n.FlagsOffset, 2, elf.Length)), (ushort)(n.Flags | Weak));
        return WeakenResult.Weakened;
    }

    private static bool TryFindVerneed(ReadOnlySpan<byte> elf, out long section, out long count, out long strtab)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");
        var shoff = U64(elf, 0x28);
        var shentsize = U16(elf, 0x3A);
        var shnum = U16(elf, 0x3C);
        if (shentsize < 64) throw new InvalidDataException($"section header entries of {shentsize} bytes");
        for (var i = 0; i < shnum; i++)
        {
            var sh = shoff + (long)i * shentsize;
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            section = U64(elf, sh + 0x18);
            count = U32(elf, sh + 0x2C); // sh_info: number of Verneed entries
            var link = U32(elf, sh + 0x28); // sh_link: the string table (.dynstr)
            strtab = U64(elf, shoff + link * shentsize + 0x18);
            return true;
        }
        section = count = strtab = 0;
        return false;
    }

    private static int Checked(long offset, int size, int length) =>
        offset >= 0 && offset + size <= length ? (int)offset : throw new InvalidDataException($"offset {offset} is outside the file ({length} bytes)");

    private static ushort U16(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(Checked(at, 2, b.Length)));
    private static long U32(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(Checked(at, 4, b.Length)));
    private static long U64(ReadOnlySpan<byte> b, long at)
    {
        var v = BinaryPrimitives.ReadUInt64LittleEndian(b.Slice(Checked(at, 8, b.Length)));
        return v <= int.MaxValue ? (long)v : throw new InvalidDataException($"offset {v} is too large");
    }

    private static string Str(ReadOnlySpan<byte> b, long at)
    {
        var start = Checked(at, 1, b.Length);
        var end = b[start..].IndexOf((byte)0);
        if (end < 0) throw new InvalidDataException($"unterminated string at {at}");
        return Encoding.ASCII.GetString(b.Slice(start, end));
    }
}
