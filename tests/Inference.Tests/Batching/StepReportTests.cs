using System.Collections.Concurrent;
using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;

namespace Qwen.Inference.Tests.Batching;

/// <summary>What the KV-slot engine's step reports say about its decode steps, checked against the requests' own arithmetic.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class StepReportTests(TinyModels models)
{
    [Fact]
    public async Task The_decode_context_sums_the_positions_every_decoding_row_attended_over()
    {
        using var engine = new BatchingEngine(models.Session("shared-buffer"), new BatchingOptions { PrefixCache = false });
        var reports = new ConcurrentQueue<EngineStepReport>();
        var reported = new SemaphoreSlim(0); // not disposed: the engine may still report a step after the test is done with it
        engine.StepCompleted += report =>
        {
            reports.Enqueue(report);
            reported.Release();
        };
        int[] promptLengths = [10, 23, 37];
        var requests = promptLengths.Select((length, r) =>
            new GenerationRequest(Enumerable.Range(0, length).Select(i => 300 + 41 * i + 7 * r).ToArray(), GenerationOptions.Greedy(9))).ToArray();

        var results = await Task.WhenAll(requests.Select(r => engine.GenerateAsync(r)));
        // A request is answered inside its last step, whose report comes after: wait for the reports of every decode step.
        long decodeSteps = results.Sum(r => (long)r.Tokens.Count - 1);
        while (reports.Sum(r => (long)r.DecodeRows) < decodeSteps) (await reported.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue("every step reports");

        // A reply of n tokens took n - 1 decode steps (the first token comes from the prefill); its
        // k-th decode step attends over the prompt, the k tokens fed so far.
        long expected = requests.Zip(results).Sum(p =>
            Enumerable.Range(1, p.Second.Tokens.Count - 1).Sum(k => (long)p.First.PromptIds.Count + k));
        reports.Sum(r => r.DecodeContextTokens).Should().Be(expected);
        reports.Sum(r => (long)r.DecodeRows).Should().Be(results.Sum(r => (long)r.Tokens.Count - 1));
        reports.Max(r => r.DecodeRows).Should().BeGreaterThan(1, "the three decode together");
    }
}
