using Xunit;

// These tests start processes that load a model and measure it; run one at a time so they do not starve each other of CPU.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
