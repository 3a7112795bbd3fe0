using System.Security.Cryptography;
using System.Text.Json;

namespace Pipeline.AppHost.Hosting;

/// <summary>
/// Credentials a resource generates for its data folder (the broker's user, the blob account's key): created once, kept
/// in <c>secrets.json</c> in that folder (readable by the owner only), and read again when the folder is reused
/// (<c>--keep-data</c>, <c>--data-dir</c>), because the data they guard was created with them.
/// </summary>
public sealed class ResourceSecrets
{
    public const string FileName = "secrets.json";

    private readonly Dictionary<string, string> values;

    private ResourceSecrets(string file, Dictionary<string, string> values, bool created)
    {
        FilePath = file;
        this.values = values;
        Created = created;
    }

    /// <summary>Where they are kept.</summary>
    public string FilePath { get; }

    /// <summary>True when this run generated them (the folder had none).</summary>
    public bool Created { get; }

    public string this[string name] => values.TryGetValue(name, out var value)
        ? value
        : throw new InvalidOperationException($"{FilePath} has no '{name}': delete the file to generate new credentials (and the data they guard).");

    /// <summary>Reads <c>secrets.json</c> of <paramref name="dataDirectory"/>, or writes it with <paramref name="create"/>'s values.</summary>
    public static ResourceSecrets LoadOrCreate(string dataDirectory, Func<Dictionary<string, string>> create)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(create);
        var file = Path.Combine(dataDirectory, FileName);
        if (File.Exists(file))
        {
            Dictionary<string, string>? kept;
            try
            {
                kept = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file));
            }
            catch (JsonException e)
            {
                throw new InvalidOperationException($"{file} is not the JSON object of credentials this resource wrote ({e.Message}).", e);
            }
            return new ResourceSecrets(file, kept ?? throw new InvalidOperationException($"{file} is empty."), created: false);
        }
        CreateOwnerOnlyDirectory(dataDirectory);
        var values = create();
        // Created owner-only, then filled: no moment when another user could read it.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(file, options))
        {
            JsonSerializer.Serialize(stream, values);
        }
        return new ResourceSecrets(file, values, created: true);
    }

    /// <summary>A folder only its owner can enter (where the platform has Unix modes); an existing one is left as it is.</summary>
    public static void CreateOwnerOnlyDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Makes a file readable and writable by its owner alone (where the platform has Unix modes).</summary>
    public static void RestrictToOwner(string file)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>Random lower-case hex: safe in URIs, config files and environment variables without quoting.</summary>
    public static string RandomHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>A random key as Azure Storage account keys are: base64 of 64 bytes.</summary>
    public static string RandomBase64Key() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(64));
}
