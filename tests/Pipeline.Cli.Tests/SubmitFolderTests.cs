using Pipeline.Vision.Imaging;

namespace Pipeline.Cli.Tests;

/// <summary><c>pipeline submit &lt;folder&gt;</c> uploads what the folder holds, or refuses before sending anything.</summary>
public sealed class SubmitFolderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-submit-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_link_leading_outside_the_folder_refuses_the_upload_naming_the_link()
    {
        var folder = Path.Combine(dir, "dataset");
        foreach (var cls in (string[])["red", "blue"])
        {
            Directory.CreateDirectory(Path.Combine(folder, "train", cls));
            for (var k = 0; k < 3; k++)
                File.WriteAllBytes(Path.Combine(folder, "train", cls, $"{k}.png"), PngCodec.Encode(new ImageBuffer(4, 4, 3, new byte[4 * 4 * 3])));
        }
        var outside = Path.Combine(dir, "secret.png");
        File.Copy(Path.Combine(folder, "train", "red", "0.png"), outside);
        File.CreateSymbolicLink(Path.Combine(folder, "train", "red", "linked.png"), outside);

        // Port 9 (discard) on loopback: nothing answers there, so only a refusal made before connecting names the link.
        var (code, _, stderr) = CliApp.RunCaptured("submit", folder, "--url", "http://127.0.0.1:9", "--api-key", "k");
        Assert.NotEqual(0, code);
        Assert.Contains("linked.png", stderr, StringComparison.Ordinal);
        Assert.Contains("outside the dataset folder", stderr, StringComparison.Ordinal);
        Assert.Contains("--server-path", stderr, StringComparison.Ordinal);
    }
}
