using Xunit;

// The runtime tests measure queueing and cancellation against real model work; unit tests that
// block thread-pool threads alongside them would starve them on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
