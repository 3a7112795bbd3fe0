using System.Text.Json;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class optim
    {
        /// <summary>Options of <see cref="Adam"/> and <see cref="AdamW"/>.</summary>
        public sealed record AdamOptions : OptimizerOptions
        {
            public (double, double) betas { get; set; } = (0.9, 0.999);
            public double eps { get; set; } = 1e-8;
            public bool amsgrad { get; set; }
            public bool maximize { get; set; }

            internal override void Validate()
            {
                base.Validate();
                if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Invalid epsilon value");
                if (!(betas.Item1 >= 0 && betas.Item1 < 1)) throw new ArgumentOutOfRangeException(nameof(betas), betas.Item1, "Invalid beta parameter at index 0");
                if (!(betas.Item2 >= 0 && betas.Item2 < 1)) throw new ArgumentOutOfRangeException(nameof(betas), betas.Item2, "Invalid beta parameter at index 1");
            }

            internal override void WriteJson(Utf8JsonWriter writer)
            {
                base.WriteJson(writer);
                writer.WriteStartArray("betas");
                writer.WriteNumberValue(betas.Item1);
                writer.WriteNumberValue(betas.Item2);
                writer.WriteEndArray();
                writer.WriteNumber("eps", eps);
                writer.WriteBoolean("amsgrad", amsgrad);
                writer.WriteBoolean("maximize", maximize);
            }

            internal override void ReadJson(JsonElement json)
            {
                base.ReadJson(json);
                var b = json.GetProperty("betas");
                if (b.GetArrayLength() != 2) throw new FormatException("betas must hold two numbers");
                betas = (b[0].GetDouble(), b[1].GetDouble());
                eps = json.GetProperty("eps").GetDouble();
                amsgrad = json.GetProperty("amsgrad").GetBoolean();
                maximize = json.GetProperty("maximize").GetBoolean();
            }
        }

        /// <summary>Adam with L2 weight decay (added to the gradient), as torch.optim.Adam in PyTorch 1.13.</summary>
        public sealed class Adam : Optimizer
        {
            internal static readonly string[] Names = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

            public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weight_decay = 0, bool amsgrad = false, bool maximize = false)
                : this([new ParamGroup(parameters)], lr, betas, eps, weight_decay, amsgrad, maximize) { }

            public Adam(IEnumerable<ParamGroup> param_groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weight_decay = 0, bool amsgrad = false, bool maximize = false)
                : base(param_groups, new AdamOptions
                {
                    lr = lr, betas = betas ?? (0.9, 0.999), eps = eps, weight_decay = weight_decay, amsgrad = amsgrad, maximize = maximize,
                })
            { }

            private protected override string[] StateNames => Names;
            private protected override bool CountsSteps => true;

            private protected override void StepGroup(ParamGroup group) => AdamStep(this, group, decoupled: false);

            internal static unsafe void AdamStep(Optimizer optimizer, ParamGroup group, bool decoupled)
            {
                var o = (AdamOptions)group.options;
                optimizer.RunNative(group, (p, n, slots, steps) =>
                    pt_adam_step(p, n, slots, slots + n, slots + 2 * n, steps, o.lr, o.betas.Item1, o.betas.Item2, o.eps,
                        o.weight_decay, o.amsgrad ? 1 : 0, o.maximize ? 1 : 0, decoupled ? 1 : 0));
            }
        }

        /// <summary>Adam with decoupled weight decay, as torch.optim.AdamW in PyTorch 1.13.</summary>
        public sealed class AdamW : Optimizer
        {
            public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weight_decay = 1e-2, bool amsgrad = false, bool maximize = false)
                : this([new ParamGroup(parameters)], lr, betas, eps, weight_decay, amsgrad, maximize) { }

            public AdamW(IEnumerable<ParamGroup> param_groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weight_decay = 1e-2, bool amsgrad = false, bool maximize = false)
                : base(param_groups, new AdamOptions
                {
                    lr = lr, betas = betas ?? (0.9, 0.999), eps = eps, weight_decay = weight_decay, amsgrad = amsgrad, maximize = maximize,
                })
            { }

            private protected override string[] StateNames => Adam.Names;
            private protected override bool CountsSteps => true;

            private protected override void StepGroup(ParamGroup group) => Adam.AdamStep(this, group, decoupled: true);
        }
    }
}
#pragma warning restore CA1707, IDE1006
