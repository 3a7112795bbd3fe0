using System.Reflection;

namespace Pipeline.Torch.Tests;

/// <summary>
/// Our side of Reference/parity.py: one entry per case name, computing the same outputs from the same
/// inputs with our engine. Each area keeps its cases in a class marked <see cref="ParityCaseSetAttribute"/>
/// (ParityCases.*.cs, mirroring Reference/cases_*.py); <see cref="ParityTests"/> compares outputs and gradients.
/// </summary>
public static class ParityCases
{
    public delegate Dictionary<string, Tensor> Case(Func<string, Tensor> input);

    public static readonly IReadOnlyDictionary<string, Case> All = Collect();

    private static Dictionary<string, Case> Collect()
    {
        var all = new Dictionary<string, Case>(StringComparer.Ordinal);
        foreach (var type in typeof(ParityCases).Assembly.GetTypes().Where(t => t.GetCustomAttribute<ParityCaseSetAttribute>() is not null))
        {
            var cases = (Dictionary<string, Case>)type.GetProperty("Cases", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            foreach (var (name, c) in cases) all.Add(name, c);
        }
        return all;
    }
}

/// <summary>Marks a class whose static <c>Cases</c> property holds parity cases.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ParityCaseSetAttribute : Attribute;
