using Xunit;
using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>KV slots hold memory for what runs: the buffer grows for a long request, shrinks when it leaves, and is released when idle.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class SlotMemoryTests(TinyModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_kv_buffer_grows_for_a_long_prompt_shrinks_after_it_and_is_released_when_idle()
    {
        var session = models.Session("shared-buffer");
        using var engine = new BatchingEngine(session, new BatchingOptions { MaxPrefillTokensPerStep = 32 });
        var steps = new ConcurrentQueue<(int DecodeRows, int Capacity, int InUse)>(); // written on the engine thread
        var decoding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.StepCompleted += report =>
        {
            steps.Enqueue((report.DecodeRows, engine.KvCapacityTokens, engine.KvTokensInUse));
            if (report.DecodeRows == 4) decoding.TrySetResult();
        };
        var generations = Enumerable.Range(0, 4)
            .Select(i => engine.GenerateAsync(new GenerationRequest(RandomIds(300 + i, 5), GenerationOptions.Greedy(60))))
            .ToArray();
        await decoding.Task.WaitAsync(Patience);
        // A 200-token prompt scored while the four decode: it needs a slot of 200+ positions.
        await engine.ScoreAsync(RandomIds(400, 200), [RandomIds(401, 2), RandomIds(402, 1)]).WaitAsync(Patience);
        int afterScoring = steps.Count;
        await Task.WhenAll(generations).WaitAsync(Patience);

        var all = steps.ToArray();
        all.Max(s => s.Capacity).Should().BeGreaterThanOrEqualTo(5 * 202, "five slots of the scoring request's length while it ran");
        var later = all.Skip(afterScoring + 1).Where(s => s.DecodeRows == 4).ToArray();
        later.Should().NotBeEmpty("the four went on decoding after the scoring request left");
        later.Should().OnlyContain(s => s.Capacity <= 4 * 65, "the buffer shrank back to four slots of their own reservation");
        all.Should().OnlyContain(s => s.InUse <= s.Capacity);
        for (int i = 0; i < 100 && engine.KvCapacityTokens > 0; i++) await Task.Delay(50);
        engine.KvCapacityTokens.Should().Be(0, "an idle engine holds no KV");
    }
}
