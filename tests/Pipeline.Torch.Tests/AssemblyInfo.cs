// libtorch's default generator and grad mode are process-wide: seeded tests (RNG parity, bit-exact init,
// exact resume) must never interleave with other tests drawing random numbers. libtorch already uses
// every core inside each test, so running tests one at a time costs little.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
