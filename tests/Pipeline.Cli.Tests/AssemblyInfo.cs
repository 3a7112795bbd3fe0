// Training runs seed libtorch's process-wide generator: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
