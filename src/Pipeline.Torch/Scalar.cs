using System.Runtime.InteropServices;

namespace Pipeline.Torch;

/// <summary>
/// A number with its kind, passed by value to libtorch, so that <c>intTensor + 1</c> stays integral and
/// <c>floatTensor * 0.5</c> stays floating, as in PyTorch. Layout matches the shim's <c>PtScalar</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct Scalar : IEquatable<Scalar>
{
    private readonly double floating;
    private readonly long integral;
    private readonly int kind; // 0 floating, 1 integral, 2 boolean

    private Scalar(double floating, long integral, int kind)
    {
        this.floating = floating;
        this.integral = integral;
        this.kind = kind;
    }

    public static Scalar FromDouble(double value) => new(value, 0, 0);
    public static Scalar FromInt64(long value) => new(value, value, 1);
    public static Scalar FromBoolean(bool value) => new(value ? 1 : 0, value ? 1 : 0, 2);

    public static implicit operator Scalar(double value) => FromDouble(value);
    public static implicit operator Scalar(float value) => FromDouble(value);
    public static implicit operator Scalar(long value) => FromInt64(value);
    public static implicit operator Scalar(int value) => FromInt64(value);
    public static implicit operator Scalar(bool value) => FromBoolean(value);

    public bool IsFloatingPoint => kind == 0;
    public bool IsBoolean => kind == 2;
    public double ToDouble() => kind == 0 ? floating : integral;
    public long ToInt64() => kind == 0 ? (long)floating : integral;

    public bool Equals(Scalar other) => kind == other.kind && floating.Equals(other.floating) && integral == other.integral;
    public override bool Equals(object? obj) => obj is Scalar s && Equals(s);
    public override int GetHashCode() => HashCode.Combine(floating, integral, kind);
    public static bool operator ==(Scalar left, Scalar right) => left.Equals(right);
    public static bool operator !=(Scalar left, Scalar right) => !left.Equals(right);
    public override string ToString() => kind switch
    {
        0 => floating.ToString(System.Globalization.CultureInfo.InvariantCulture),
        2 => integral != 0 ? "True" : "False",
        _ => integral.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
