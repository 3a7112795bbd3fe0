using System.Text.Json;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class optim
    {
        public sealed record SGDOptions : OptimizerOptions
        {
            public double momentum { get; set; }
            public double dampening { get; set; }
            public bool nesterov { get; set; }
            public bool maximize { get; set; }

            internal override void Validate()
            {
                base.Validate();
                if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Invalid momentum value");
                if (nesterov && (momentum <= 0 || dampening != 0))
                    throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening", nameof(nesterov));
            }

            internal override void WriteJson(Utf8JsonWriter writer)
            {
                base.WriteJson(writer);
                writer.WriteNumber("momentum", momentum);
                writer.WriteNumber("dampening", dampening);
                writer.WriteBoolean("nesterov", nesterov);
                writer.WriteBoolean("maximize", maximize);
            }

            internal override void ReadJson(JsonElement json)
            {
                base.ReadJson(json);
                momentum = json.GetProperty("momentum").GetDouble();
                dampening = json.GetProperty("dampening").GetDouble();
                nesterov = json.GetProperty("nesterov").GetBoolean();
                maximize = json.GetProperty("maximize").GetBoolean();
            }
        }

        /// <summary>Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD in PyTorch 1.13.</summary>
        public sealed class SGD : Optimizer
        {
            private static readonly string[] Names = ["momentum_buffer"];

            public SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0, double weight_decay = 0,
                bool nesterov = false, bool maximize = false)
                : this([new ParamGroup(parameters)], lr, momentum, dampening, weight_decay, nesterov, maximize) { }

            public SGD(IEnumerable<ParamGroup> param_groups, double lr, double momentum = 0, double dampening = 0, double weight_decay = 0,
                bool nesterov = false, bool maximize = false)
                : base(param_groups, new SGDOptions
                {
                    lr = lr, momentum = momentum, dampening = dampening, weight_decay = weight_decay, nesterov = nesterov, maximize = maximize,
                })
            { }

            private protected override string[] StateNames => Names;

            private protected override unsafe void StepGroup(ParamGroup group)
            {
                var o = (SGDOptions)group.options;
                RunNative(group, (p, n, slots, _) =>
                    pt_sgd_step(p, n, slots, o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov ? 1 : 0, o.maximize ? 1 : 0));
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
