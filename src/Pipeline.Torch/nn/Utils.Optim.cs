using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        public static partial class utils
        {
            /// <summary>
            /// Scales every gradient in place so that their joint norm (all gradients as one vector) is at most
            /// <paramref name="max_norm"/>, as PyTorch does: coefficient min(1, max_norm / (total + 1e-6)).
            /// Parameters without a gradient are ignored. Returns the total norm before clipping.
            /// </summary>
            public static unsafe double clip_grad_norm_(IEnumerable<Tensor> parameters, double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false)
            {
                using var handles = new HandleList(Materialize(parameters));
                fixed (IntPtr* p = handles.Pointers)
                {
                    Check(pt_clip_grad_norm_(p, handles.Pointers.Length, max_norm, norm_type, error_if_nonfinite ? 1 : 0, out var total));
                    return total;
                }
            }

            /// <summary>Clamps every gradient in place to [-clip_value, clip_value].</summary>
            public static unsafe void clip_grad_value_(IEnumerable<Tensor> parameters, double clip_value)
            {
                using var handles = new HandleList(Materialize(parameters));
                fixed (IntPtr* p = handles.Pointers) Check(pt_clip_grad_value_(p, handles.Pointers.Length, clip_value));
            }

            /// <summary>All parameters flattened and concatenated into one vector (differentiable).</summary>
            public static unsafe Tensor parameters_to_vector(IEnumerable<Tensor> parameters)
            {
                using var handles = new HandleList(Materialize(parameters));
                fixed (IntPtr* p = handles.Pointers) return new Tensor(pt_parameters_to_vector(p, handles.Pointers.Length));
            }

            private static Tensor[] Materialize(IEnumerable<Tensor> parameters)
            {
                ArgumentNullException.ThrowIfNull(parameters);
                return parameters as Tensor[] ?? parameters.ToArray();
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
