using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Services.Tests;

/// <summary>One hostile dataset: the file or folder, the task to submit it as, and a text its error must contain besides
/// the dataset's own name.</summary>
public sealed record HostileDataset(string Path, string Task, string Expected);

/// <summary>
/// Datasets built to break a reader: unsafe or exploding archives, images that lie about themselves, label files of
/// every format gone wrong. Each is small on disk (the bombs are a few hundred kilobytes) and fails with one error.
/// </summary>
public sealed class HostileCorpus(string folder)
{
    public IReadOnlyList<HostileDataset> Datasets() =>
    [
        // Archives.
        new(Write("corrupt.zip", [0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9]), "classify", "not a readable zip archive"),
        new(Zip("escaping.zip", Good("red/a.png", "blue/b.png"), ("../evil.png", Png(3, 10, 12))), "classify", "climbs out of the archive"),
        new(Zip("absolute.zip", Good("red/a.png", "blue/b.png"), ("/etc/evil.png", Png(3, 10, 12))), "classify", "absolute path"),
        new(Tar("symlink.tar", Good("red/a.png", "blue/b.png"), link: TarEntryType.SymbolicLink), "classify", "link entries are not allowed"),
        new(Tar("hardlink.tar", Good("red/a.png", "blue/b.png"), link: TarEntryType.HardLink), "classify", "link entries are not allowed"),
        new(Tar("fifo.tar", Good("red/a.png", "blue/b.png"), link: TarEntryType.Fifo), "classify", "Fifo entries are not allowed"),
        new(DeclaredHugeZip("declared-huge.zip"), "classify", "declares 2.8 GiB unpacked"),
        new(ZerosTarGz("ratio-bomb.tar.gz", Enumerable.Range(0, 12).Select(k => ($"red/{k:00}.png", 8L << 20))), "classify", "decompression bomb"),
        new(ZerosTarGz("huge-entry.tgz", [("red/a.png", 600L << 20)]), "classify", "over the limit of 512 MiB for one file"),
        new(Zip("empty.zip"), "classify", "empty"),
        new(TruncatedTarGz("truncated.tar.gz"), "classify", "not a readable tar archive"),
        new(Zip("not-a-dataset.zip", ("notes/a.txt", "hello"u8.ToArray()), ("notes/b.txt", "world"u8.ToArray())), "classify", "not a known dataset layout"),
        // Images.
        new(Zip("png-bomb.zip", Good("red/a.png", "blue/b.png"), ("blue/huge.png", PngBomb())), "classify", "huge.png"),
        new(Zip("all-truncated.zip", ("red/a.png", Png(1, 10, 12)[..40]), ("blue/b.png", Png(2, 10, 12)[..40])), "classify", "no usable"),
        new(Zip("text-as-images.zip", ("red/a.png", "not an image"u8.ToArray()), ("blue/b.jpg", "nor this"u8.ToArray())), "classify", "no usable"),
        new(Zip("one-class.zip", ("red/a.png", Png(1, 10, 12)), ("red/b.png", Png(2, 10, 12)), ("red/c.png", Png(3, 10, 12))), "classify", "class"),
        // YOLO.
        new(Yolo("yolo-six-fields.zip", "0 0.5 0.5 0.2 0.2 7"), "detect", "6 fields"),
        new(Yolo("yolo-over-one.zip", "0 0.9 0.5 0.6 0.2"), "detect", "outside"),
        new(Yolo("yolo-unknown-class.zip", "5 0.5 0.5 0.2 0.2"), "detect", "class 5 is not among"),
        new(Yolo("yolo-no-names.zip", "0 0.5 0.5 0.2 0.2", names: null), "detect", "not a known dataset layout"),
        new(Yolo("yolo-bad-yaml.zip", "0 0.5 0.5 0.2 0.2", names: "names: [red\n  - : ]: x"), "detect", "data.yaml"),
        // COCO.
        new(Coco("coco-not-json.zip", "{ this is not json"), "detect", "_annotations.coco.json"),
        new(Coco("coco-unknown-category.zip", CocoJson(category: 9)), "detect", "9"),
        new(Coco("coco-box-outside.zip", CocoJson(bbox: "[5, 5, 40, 4]")), "detect", "outside"),
        new(Coco("coco-images-not-a-list.zip", """{"images": "nope", "categories": [], "annotations": []}"""), "detect", "_annotations.coco.json"),
        new(Coco("coco-nameless-category.zip", CocoJson(categories: """[{"id": 0}]""")), "detect", "category without id or name"),
        // PaliGemma JSONL.
        new(PaliGemma("paligemma-bad-line.zip", "{not json"), "detect", "_annotations.train.jsonl"),
        new(PaliGemma("paligemma-loc1500.zip", """{"image": "a.png", "prefix": "detect red", "suffix": "<loc1500><loc0100><loc0500><loc0600> red"}"""), "detect", "location bins"),
        // IDX.
        new(Idx("idx-truncated", images: IdxImages(3, cut: 10)), "classify", "truncated IDX"),
        new(Idx("idx-bad-magic", images: [1, 2, 3, 4, 0, 0, 0, 1]), "classify", "bad magic"),
        new(Idx("idx-gz-bomb", images: CraftedArchives.Gzip(CraftedArchives.IdxHeader(60_000, 28, 56)), gz: true), "classify", "declares 89.7 MiB of elements"),
    ];

    // ---- archives ----

    private static (string, byte[])[] Good(params string[] names) => names.Select((n, k) => (n, Png(k, 10, 12, red: n.StartsWith("red", StringComparison.Ordinal)))).ToArray();

    public string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public string Zip(string name, params (string Name, byte[] Bytes)[] entries) => Zip(name, entries, []);

    private string Zip(string name, (string Name, byte[] Bytes)[] first, params (string Name, byte[] Bytes)[] more)
    {
        var path = Path.Combine(folder, name);
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entryName, bytes) in first.Concat(more))
        {
            using var stream = archive.CreateEntry(entryName).Open();
            stream.Write(bytes);
        }
        return path;
    }

    private string Tar(string name, (string Name, byte[] Bytes)[] good, TarEntryType link)
    {
        var path = Path.Combine(folder, name);
        using var file = File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Pax);
        foreach (var (entryName, bytes) in good)
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, entryName) { DataStream = new MemoryStream(bytes) });
        var odd = new PaxTarEntry(link, "red/sneaky.png");
        if (link is TarEntryType.SymbolicLink or TarEntryType.HardLink) odd.LinkName = "/etc/passwd";
        writer.WriteEntry(odd);
        return path;
    }

    /// <summary>A zip whose directory says one entry unpacks to 3 GB (its data is 100 bytes).</summary>
    private string DeclaredHugeZip(string name)
    {
        var path = Zip(name, Good("red/a.png", "blue/b.png"), ("blue/liar.png", new byte[100]));
        CraftedArchives.DeclareUncompressedSize(path, "blue/liar.png", 3_000_000_000);
        return path;
    }

    public string ZerosTarGz(string name, IEnumerable<(string Name, long Bytes)> entries)
    {
        var path = Path.Combine(folder, name);
        CraftedArchives.WriteZerosTarGz(path, entries);
        return path;
    }

    private string TruncatedTarGz(string name)
    {
        var whole = ZerosTarGz(name, [("red/a.png", 1 << 20), ("blue/b.png", 1 << 20)]);
        var bytes = File.ReadAllBytes(whole);
        File.WriteAllBytes(whole, bytes[..(bytes.Length / 2)]);
        return whole;
    }

    // ---- images ----

    public static byte[] Png(int seed, int width, int height, bool red = true)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
        {
            pixels[3 * p] = (byte)(red ? 160 + random.Next(96) : random.Next(96));
            pixels[3 * p + 1] = (byte)random.Next(96);
            pixels[3 * p + 2] = (byte)(red ? random.Next(96) : 160 + random.Next(96));
        }
        return PngCodec.Encode(new ImageBuffer(width, height, 3, pixels));
    }

    /// <summary>A 1x1 PNG whose header declares 60000x60000 pixels.</summary>
    public static byte[] PngBomb()
    {
        var png = Png(7, 1, 1);
        byte[] big = [0, 0, 0xEA, 0x60];
        big.CopyTo(png, 16);
        big.CopyTo(png, 20);
        return png;
    }

    // ---- label formats ----

    private string Yolo(string name, string line, string? names = "names: [red, blue]\n")
    {
        var entries = new List<(string, byte[])>
        {
            ("images/train/a.png", Png(1, 40, 40)), ("labels/train/a.txt", Encoding.UTF8.GetBytes(line + "\n")),
            ("images/train/b.png", Png(2, 40, 40, red: false)), ("labels/train/b.txt", "1 0.5 0.5 0.2 0.2\n"u8.ToArray()),
        };
        if (names is not null) entries.Add(("data.yaml", Encoding.UTF8.GetBytes(names)));
        return Zip(name, [.. entries]);
    }

    private static string CocoJson(int category = 0, string bbox = "[5, 5, 10, 10]", string categories = """[{"id": 0, "name": "red"}, {"id": 1, "name": "blue"}]""") => $$"""
        {"images": [{"id": 1, "file_name": "images/a.png", "width": 20, "height": 20}, {"id": 2, "file_name": "images/b.png", "width": 20, "height": 20}],
         "categories": {{categories}},
         "annotations": [{"id": 1, "image_id": 1, "category_id": {{category}}, "bbox": {{bbox}}}, {"id": 2, "image_id": 2, "category_id": 0, "bbox": [2, 2, 8, 8]}]}
        """;

    private string Coco(string name, string json) =>
        Zip(name, ("images/a.png", Png(1, 20, 20)), ("images/b.png", Png(2, 20, 20, red: false)), ("_annotations.coco.json", Encoding.UTF8.GetBytes(json)));

    private string PaliGemma(string name, string line) =>
        Zip(name, ("a.png", Png(1, 20, 20)), ("b.png", Png(2, 20, 20, red: false)),
            ("_annotations.train.jsonl", Encoding.UTF8.GetBytes(line + "\n" + """{"image": "b.png", "prefix": "detect red", "suffix": "<loc0100><loc0100><loc0500><loc0600> red"}""" + "\n")));

    // ---- IDX ----

    private string Idx(string name, byte[] images, bool gz = false)
    {
        var dir = Path.Combine(folder, name);
        Directory.CreateDirectory(dir);
        var suffix = gz ? ".gz" : "";
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 0];
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte" + suffix), images);
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte" + suffix), gz ? CraftedArchives.Gzip(labels) : labels);
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte" + suffix), gz ? CraftedArchives.Gzip([.. CraftedArchives.IdxHeader(3, 2, 2), .. new byte[12]]) : [.. CraftedArchives.IdxHeader(3, 2, 2), .. new byte[12]]);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte" + suffix), gz ? CraftedArchives.Gzip(labels) : labels);
        return dir;
    }

    private static byte[] IdxImages(int count, int cut) => [.. CraftedArchives.IdxHeader(count, 2, 2), .. new byte[count * 4 - cut]];
}
