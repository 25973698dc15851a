using System.Collections.Concurrent;
using System.Diagnostics;
using Qwen.Inference.Batching;

namespace Qwen.Cli.Serving;

/// <summary>
/// <c>bench-serve --turn-cost</c>: at each concurrency level, the same messages sent as plain chat turns, as combined
/// (sentiment + reply) turns, and as chat turns plus separate sentiment requests, one phase after the other on a fresh,
/// warmed batched worker each; the engine's prefill positions and prefill time are summed per phase.
/// </summary>
internal sealed class TurnCostBenchmark(ServeBenchmark serve, int maxNewTokens)
{
    private const string WarmUpText = "你好，今天过得怎么样？";

    public async Task<TurnCostRow> RunPhaseAsync(string kind, int concurrency, IReadOnlyList<string> texts, LiveCounters live,
        CancellationToken cancellationToken)
    {
        using var worker = serve.CreateWorker(ServeModes.Batched);
        // Warm as a serving silo is: every prompt's system prefix is in the prefix cache.
        foreach (string warmKind in TurnKinds.All)
        {
            var sample = await new TurnCostClient(worker, maxNewTokens, warmKind).RunAsync(WarmUpText, cancellationToken).ConfigureAwait(false);
            if (!sample.Succeeded) throw new InvalidOperationException($"the warm-up {warmKind} turn failed: {sample.Error}");
        }

        var steps = new StepTally();
        worker.StepCompleted += steps.Record;
        var samples = new ConcurrentQueue<TurnSample>();
        var watch = Stopwatch.StartNew();
        try
        {
            await ClosedLoop.RunAsync(concurrency, texts, () =>
            {
                var client = new TurnCostClient(worker, maxNewTokens, kind);
                return async text =>
                {
                    var sample = await client.RunAsync(text, cancellationToken).ConfigureAwait(false);
                    samples.Enqueue(sample);
                    live.Record(sample.Succeeded, sample.GeneratedTokens);
                };
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            worker.StepCompleted -= steps.Record;
        }
        cancellationToken.ThrowIfCancellationRequested();
        return TurnCostRow.From(kind, concurrency, samples, watch.Elapsed, steps.PrefillTokens, steps.PrefillTime);
    }
}
