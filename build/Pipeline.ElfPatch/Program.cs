using Pipeline.ElfPatch;

// pipeline-elfpatch weaken-version-need IN OUT VERSION: writes OUT as IN with VERSION's need marked weak.
// OUT is left untouched when it already holds exactly those bytes, so incremental builds stay quiet.
if (args.Length != 4 || args[0] != "weaken-version-need")
{
    Console.Error.WriteLine("usage: Pipeline.ElfPatch weaken-version-need IN OUT VERSION");
    return 2;
}
var (input, output, version) = (args[1], args[2], args[3]);
try
{
    var image = File.ReadAllBytes(input);
    var result = ElfVersionNeeds.Weaken(image, version);
    var what = result == WeakenResult.Weakened ? "marked weak" : "was weak already";
    if (File.Exists(output) && File.ReadAllBytes(output).AsSpan().SequenceEqual(image))
    {
        Console.WriteLine($"{output}: the need for {version} is weak (up to date)");
        return 0;
    }
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    var temp = output + ".tmp";
    File.WriteAllBytes(temp, image);
    if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(input));
    File.Move(temp, output, overwrite: true);
    Console.WriteLine($"{output}: the need for {version} {what} (from {input})");
    return 0;
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"Pipeline.ElfPatch: {input}: {e.Message}");
    return 1;
}
