using Xunit;
using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// KV slots hold memory for what runs: sized once for ordinary traffic, grown for a long request,
/// shrunk when it leaves, released after the engine has been idle a while.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class SlotMemoryTests(TinyModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_kv_buffer_grows_for_a_long_prompt_shrinks_after_it_and_is_released_when_idle()
    {
        var session = models.Session("shared-buffer");
        var options = new BatchingOptions { MaxBatchSize = 4, KvSlotMinCapacity = 64, KvIdleRelease = TimeSpan.FromMilliseconds(200) };
        using var engine = new BatchingEngine(session, options);
        var steps = new ConcurrentQueue<(int DecodeRows, int Capacity, int InUse)>(); // written on the engine thread
        var decoding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task? scoring = null;
        int scoredAt = -1; // the step in which the scoring request was answered, seen from the engine thread
        engine.StepCompleted += report =>
        {
            steps.Enqueue((report.DecodeRows, engine.KvCapacityTokens, engine.KvTokensInUse));
            if (report.DecodeRows == 4) decoding.TrySetResult();
            if (scoredAt < 0 && Volatile.Read(ref scoring) is { IsCompleted: true }) scoredAt = steps.Count - 1;
        };
        var generations = Enumerable.Range(0, 4)
            .Select(i => engine.GenerateAsync(new GenerationRequest(RandomIds(300 + i, 5), GenerationOptions.Greedy(60))))
            .ToArray();
        await decoding.Task.WaitAsync(Patience);
        // A 2100-token prompt scored while the four decode: its slot needs 2102 positions, 4096 rounded.
        Volatile.Write(ref scoring, engine.ScoreAsync(RandomIds(400, 2100), [RandomIds(401, 2), RandomIds(402, 1)]));
        await scoring.WaitAsync(Patience);
        await Task.WhenAll(generations).WaitAsync(Patience);
        scoredAt.Should().BeGreaterThanOrEqualTo(0, "the engine stepped after the scoring request was answered");

        var all = steps.ToArray();
        const int Slots = 8; // room for a full batch decoding and a full group prefilling
        all.First().Capacity.Should().Be(Slots * 128, "65-position reservations round up to 128");
        all.Max(s => s.Capacity).Should().Be(Slots * 4096, "every slot grew to the scoring request's rounded length while it ran");
        var later = all.Skip(scoredAt + 1).Where(s => s.DecodeRows == 4).ToArray();
        later.Should().NotBeEmpty("the four went on decoding after the scoring request left");
        later.Should().OnlyContain(s => s.Capacity == Slots * 128, "32 times more than needed: the buffer shrank back");
        all.Should().OnlyContain(s => s.InUse <= s.Capacity);
        for (int i = 0; i < 200 && engine.KvCapacityTokens > 0; i++) await Task.Delay(50);
        engine.KvCapacityTokens.Should().Be(0, "an engine idle for longer than KvIdleRelease holds no KV");
    }

    [Fact]
    public async Task Ordinary_traffic_never_resizes_the_buffer()
    {
        var session = models.Session("shared-buffer");
        using var engine = new BatchingEngine(session, new BatchingOptions { MaxBatchSize = 4, KvIdleRelease = TimeSpan.FromMinutes(5) });
        var capacities = new ConcurrentQueue<int>(); // written on the engine thread
        engine.StepCompleted += _ => capacities.Enqueue(engine.KvCapacityTokens);
        var random = new Random(7);
        for (int wave = 0; wave < 3; wave++)
        {
            var requests = Enumerable.Range(0, 1 + random.Next(6)).Select(i =>
                engine.GenerateAsync(new GenerationRequest(RandomIds(500 + 10 * wave + i, 3 + random.Next(120)), GenerationOptions.Greedy(1 + random.Next(40)))));
            await Task.WhenAll(requests).WaitAsync(Patience);
        }
        capacities.Should().NotBeEmpty();
        capacities.Distinct().Should().Equal([8 * new BatchingOptions().KvSlotMinCapacity],
            "requests within the minimum slot capacity fit the buffer sized at the first request, even across idle gaps shorter than KvIdleRelease");
    }
}
