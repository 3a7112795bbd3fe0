namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// Batch normalisation over (N, C, H, W). Training mode normalises with the batch statistics and updates
        /// running_mean/running_var (momentum, or a cumulative average when momentum is null) and num_batches_tracked;
        /// eval mode uses the running statistics.
        /// </summary>
        public sealed class BatchNorm2d : Module<Tensor, Tensor>
        {
            public BatchNorm2d(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true,
                Device? device = null, ScalarType dtype = ScalarType.Float32)
            {
                this.num_features = num_features;
                this.eps = eps;
                this.momentum = momentum;
                this.affine = affine;
                this.track_running_stats = track_running_stats;
                weight = affine ? Layers.Filled([num_features], 1.0, dtype, device) : null;
                bias = affine ? Layers.Filled([num_features], 0.0, dtype, device) : null;
                if (track_running_stats)
                {
                    register_buffer(nameof(running_mean), zeros([num_features], dtype, device));
                    register_buffer(nameof(running_var), ones([num_features], dtype, device));
                    register_buffer(nameof(num_batches_tracked), zeros([], int64, device));
                }
                else
                {
                    register_buffer(nameof(running_mean), null);
                    register_buffer(nameof(running_var), null);
                    register_buffer(nameof(num_batches_tracked), null);
                }
            }

            public long num_features { get; }
            public double eps { get; set; }
            public double? momentum { get; set; }
            public bool affine { get; }
            public bool track_running_stats { get; }

            public Parameter? weight
            {
                get => GetParameter(nameof(weight));
                set => register_parameter(nameof(weight), value);
            }

            public Parameter? bias
            {
                get => GetParameter(nameof(bias));
                set => register_parameter(nameof(bias), value);
            }

            public Tensor? running_mean => GetBuffer(nameof(running_mean));
            public Tensor? running_var => GetBuffer(nameof(running_var));
            public Tensor? num_batches_tracked => GetBuffer(nameof(num_batches_tracked));

            /// <summary>Running statistics back to mean 0, variance 1, no batches seen.</summary>
            public void reset_running_stats()
            {
                if (!track_running_stats) return;
                init.zeros_(running_mean!);
                init.ones_(running_var!);
                init.zeros_(num_batches_tracked!);
            }

            public override Tensor forward(Tensor input)
            {
                ArgumentNullException.ThrowIfNull(input);
                if (input.dim() != 4) throw new ArgumentException($"expected 4D input (got {input.dim()}D input)", nameof(input));
                // Mirrors torch.nn.modules.batchnorm._BatchNorm.forward.
                var factor = momentum ?? 0.0;
                if (training && track_running_stats && num_batches_tracked is { } tracked)
                {
                    using (no_grad()) tracked.add_(1);
                    factor = momentum ?? 1.0 / tracked.item<long>();
                }
                var batchStats = training || (running_mean is null && running_var is null);
                var useRunning = !training || track_running_stats;
                return functional.batch_norm(input, useRunning ? running_mean : null, useRunning ? running_var : null, weight, bias, batchStats, factor, eps);
            }
        }

        /// <summary>Group normalisation: channels split into num_groups groups, each normalised over (C/G, H, W).</summary>
        public sealed class GroupNorm : Module<Tensor, Tensor>
        {
            public GroupNorm(long num_groups, long num_channels, double eps = 1e-5, bool affine = true, Device? device = null, ScalarType dtype = ScalarType.Float32)
            {
                if (num_groups <= 0 || num_channels % num_groups != 0) throw new ArgumentException("num_channels must be divisible by num_groups", nameof(num_groups));
                this.num_groups = num_groups;
                this.num_channels = num_channels;
                this.eps = eps;
                this.affine = affine;
                weight = affine ? Layers.Filled([num_channels], 1.0, dtype, device) : null;
                bias = affine ? Layers.Filled([num_channels], 0.0, dtype, device) : null;
            }

            public long num_groups { get; }
            public long num_channels { get; }
            public double eps { get; set; }
            public bool affine { get; }

            public Parameter? weight
            {
                get => GetParameter(nameof(weight));
                set => register_parameter(nameof(weight), value);
            }

            public Parameter? bias
            {
                get => GetParameter(nameof(bias));
                set => register_parameter(nameof(bias), value);
            }

            public override Tensor forward(Tensor input) => functional.group_norm(input, num_groups, weight, bias, eps);
        }

        /// <summary>Normalises over the trailing dimensions given by normalized_shape.</summary>
        public sealed class LayerNorm : Module<Tensor, Tensor>
        {
            public LayerNorm(long[] normalized_shape, double eps = 1e-5, bool elementwise_affine = true, Device? device = null, ScalarType dtype = ScalarType.Float32)
            {
                ArgumentNullException.ThrowIfNull(normalized_shape);
                this.normalized_shape = (long[])normalized_shape.Clone();
                this.eps = eps;
                this.elementwise_affine = elementwise_affine;
                weight = elementwise_affine ? Layers.Filled(this.normalized_shape, 1.0, dtype, device) : null;
                bias = elementwise_affine ? Layers.Filled(this.normalized_shape, 0.0, dtype, device) : null;
            }

            public LayerNorm(long normalized_shape, double eps = 1e-5, bool elementwise_affine = true, Device? device = null, ScalarType dtype = ScalarType.Float32)
                : this([normalized_shape], eps, elementwise_affine, device, dtype)
            {
            }

#pragma warning disable CA1819 // PyTorch exposes it as a plain attribute
            public long[] normalized_shape { get; }
#pragma warning restore CA1819
            public double eps { get; set; }
            public bool elementwise_affine { get; }

            public Parameter? weight
            {
                get => GetParameter(nameof(weight));
                set => register_parameter(nameof(weight), value);
            }

            public Parameter? bias
            {
                get => GetParameter(nameof(bias));
                set => register_parameter(nameof(bias), value);
            }

            public override Tensor forward(Tensor input) => functional.layer_norm(input, normalized_shape, weight, bias, eps);
        }
    }
}
#pragma warning restore CA1707, IDE1006
