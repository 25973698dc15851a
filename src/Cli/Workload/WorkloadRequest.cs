namespace Qwen.Cli.Workload;

/// <summary>One request of the mixed workload: which task, on which text.</summary>
internal sealed record WorkloadRequest(WorkloadTask Task, string Text)
{
    public static WorkloadRequest Next(Random random, WorkloadMix mix) => new(mix.Pick(random), WorkloadSentences.Pick(random));

    /// <summary>The same <paramref name="count"/> requests for every run with this seed, so configurations see one workload.</summary>
    public static IReadOnlyList<WorkloadRequest> Sequence(int count, int seed, WorkloadMix mix)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Next(random, mix)).ToArray();
    }
}
