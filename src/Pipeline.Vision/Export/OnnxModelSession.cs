using Microsoft.ML.OnnxRuntime;

namespace Pipeline.Vision.Export;

/// <summary>One float32 output of an ONNX model: its values (row-major) and shape.</summary>
public sealed record OnnxOutput(float[] Values, long[] Shape);

/// <summary>
/// An ONNX model loaded in ONNX Runtime (CPU) with one float32 input: runs a batch and returns every output by name.
/// Safe to call from several threads (ONNX Runtime's sessions are).
/// </summary>
public sealed class OnnxModelSession : IDisposable
{
    private readonly InferenceSession session;
    private readonly RunOptions run = new();

    /// <summary>Loads the model file; a file ONNX Runtime cannot load is refused naming it.</summary>
    public OnnxModelSession(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            session = new InferenceSession(path);
        }
        catch (OnnxRuntimeException e)
        {
            run.Dispose();
            throw new InvalidDataException($"{path}: ONNX Runtime cannot load the model: {e.Message}", e);
        }
        Check(path);
    }

    /// <summary>Loads a model held in memory; <paramref name="source"/> names it in errors.</summary>
    public OnnxModelSession(byte[] model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            session = new InferenceSession(model);
        }
        catch (OnnxRuntimeException e)
        {
            run.Dispose();
            throw new InvalidDataException($"{source}: ONNX Runtime cannot load the model: {e.Message}", e);
        }
        Check(source);
    }

    private void Check(string source)
    {
        if (session.InputNames.Count == 1) return;
        Dispose();
        throw new InvalidDataException($"{source}: the model has {session.InputNames.Count} inputs; one image batch is expected");
    }

    public IReadOnlyList<string> OutputNames => session.OutputNames;

    /// <summary>The model's metadata (<c>metadata_props</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata => session.ModelMetadata.CustomMetadataMap;

    /// <summary>Runs <paramref name="input"/> (row-major, of <paramref name="shape"/>) through the model.</summary>
    public IReadOnlyDictionary<string, OnnxOutput> Run(float[] input, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(shape);
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var outputs = session.Run(run, session.InputNames, new[] { value }, session.OutputNames);
        var result = new Dictionary<string, OnnxOutput>(StringComparer.Ordinal);
        for (var k = 0; k < outputs.Count; k++)
            result[session.OutputNames[k]] = new OnnxOutput(outputs[k].GetTensorDataAsSpan<float>().ToArray(), outputs[k].GetTensorTypeAndShape().Shape);
        return result;
    }

    public void Dispose()
    {
        session.Dispose();
        run.Dispose();
    }
}
