// libtorch's generator is process-wide: seeded runs (exact resume) must never interleave with other tests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
