using Pipeline.Vision;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Pipeline.Vision.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private static readonly Dictionary<string, string> Metadata = new() { ["format"] = "pt", ["note"] = "h\u00e9llo \u2713" };
    private readonly string dir = Directory.CreateTempSubdirectory("pipeline-safetensors-").FullName;
    private readonly DisposeScope scope = NewDisposeScope();

    public void Dispose()
    {
        scope.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>Mirrors expected() in Reference/safetensors_check.py.</summary>
    private static Dictionary<string, Tensor> Expected()
    {
        var b = arange(0, 24).reshape(2, 3, 4);
        var f = (b - 10).to(float64) * 0.25;
        var i = b - 10;
        return new()
        {
            ["float32"] = f.to(float32), ["float64"] = f, ["float16"] = f.to(float16), ["bfloat16"] = f.to(bfloat16),
            ["int64"] = i, ["int32"] = i.to(int32), ["int16"] = i.to(int16), ["int8"] = i.to(int8),
            ["uint8"] = (b * 10).to(uint8), ["bool"] = (b % 3).eq(0),
            ["scalar"] = tensor(3.5f), ["empty"] = zeros(0, 3),
        };
    }

    private static void AssertSameContent(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            Assert.True(e.dtype == a.dtype, $"{name}: dtype {a.dtype} != {e.dtype}");
            Assert.Equal(e.shape, a.shape);
            Assert.Equal(e.to(float64).ToArray<double>(), a.to(float64).ToArray<double>());
        }
    }

    private static (int ExitCode, string Output) Python(string mode, string path)
    {
        var psi = new ProcessStartInfo(PyTorchReference.Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = PyTorchReference.ReferenceDir };
        psi.ArgumentList.Add(Path.Combine(PyTorchReference.ReferenceDir, "safetensors_check.py"));
        psi.ArgumentList.Add(mode);
        psi.ArgumentList.Add(path);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "python did not finish");
        return (process.ExitCode, stdout + stderr.Result);
    }

    [Fact]
    public void Every_dtype_and_the_metadata_round_trip()
    {
        var path = Path.Combine(dir, "all.safetensors");
        var tensors = Expected();
        SafeTensors.Save(path, tensors, Metadata);
        SafeTensors.Save(path, tensors, Metadata); // overwrites in place
        Assert.Equal(["all.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName));
        var loaded = SafeTensors.Load(path, out var metadata);
        AssertSameContent(tensors, loaded);
        Assert.Equal(Metadata, metadata);
    }

    [Fact]
    public void Non_contiguous_tensors_are_written_in_row_major_order()
    {
        var path = Path.Combine(dir, "t.safetensors");
        var t = arange(0, 6).reshape(2, 3).t();
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["t"] = t });
        Assert.Equal([0L, 3, 1, 4, 2, 5], SafeTensors.Load(path)["t"].ToArray<long>());
    }

    [Fact]
    public void Python_reads_our_file()
    {
        var path = Path.Combine(dir, "ours.safetensors");
        SafeTensors.Save(path, Expected(), Metadata);
        var (code, output) = Python("verify", path);
        Assert.True(code == 0, output);
        Assert.Contains("OK", output, StringComparison.Ordinal);

        // The check can fail: one changed element is caught.
        var wrong = Expected();
        wrong["int32"] = wrong["int32"].clone().index_put_(99, 0, 0, 0);
        SafeTensors.Save(path, wrong, Metadata);
        var (badCode, badOutput) = Python("verify", path);
        Assert.NotEqual(0, badCode);
        Assert.Contains("int32", badOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void We_read_pythons_file()
    {
        var path = Path.Combine(dir, "theirs.safetensors");
        var (code, output) = Python("write", path);
        Assert.True(code == 0, output);
        var loaded = SafeTensors.Load(path, out var metadata);
        AssertSameContent(Expected(), loaded);
        Assert.Equal(Metadata, metadata);
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Build(string json, int dataBytes, long? declaredSize = null)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, declaredSize ?? header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private byte[] ValidFile()
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, new Dictionary<string, Tensor> { ["w"] = arange(0, 16, dtype: float32) });
        return stream.ToArray();
    }

    public static TheoryData<string> MalformedCases() => ["truncated_data", "truncated_header", "shorter_than_size", "header_too_large",
        "header_past_end", "bad_dtype", "overlapping_offsets", "offsets_disagree_with_shape", "bad_json"];

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_files_raise_InvalidDataException_naming_the_file(string kind)
    {
        var valid = ValidFile();
        var bytes = kind switch
        {
            "truncated_data" => valid[..^5],
            "truncated_header" => valid[..20],
            "shorter_than_size" => valid[..4],
            "header_too_large" => Build("{}", 0, 1L << 40),
            "header_past_end" => Build("{}", 0, 5000),
            "bad_dtype" => Build("""{"x":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}""", 1),
            "overlapping_offsets" => Build("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}""", 6),
            "offsets_disagree_with_shape" => Build("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}""", 8),
            "bad_json" => Build("""{"a":{"dtype":""", 0),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var path = WriteBytes(kind + ".safetensors", bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_valid_file_behind_the_malformed_cases_loads()
    {
        var path = WriteBytes("valid.safetensors", ValidFile());
        Assert.Equal(Enumerable.Range(0, 16).Select(v => (float)v), SafeTensors.Load(path)["w"].ToArray<float>());
    }
}
