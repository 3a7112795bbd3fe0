// Each test starts several libtorch processes on a 2-core machine: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
