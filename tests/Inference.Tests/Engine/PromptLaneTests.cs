using Xunit;
using FluentAssertions;
using Qwen.Inference.Engine;

namespace Qwen.Inference.Tests.Engine;

/// <summary>
/// Model calls with prompt lanes (<see cref="DecoderSession.StepMixed"/>): decode rows and
/// several prompt chunks in one call compute, bit for bit, what each computes in a call of its
/// own, and what a model built without lanes computes; unused lanes and an empty decode batch
/// touch no slot of the cache.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class PromptLaneTests(TinyModels models)
{
    // Slots 0-2 decode (cached prompts of 5, 9 and 13 tokens); slot 3 starts a prompt, slot 4 continues one after 6 cached positions.
    private static readonly int[] Cached = [5, 9, 13, 0, 6];

    [Theory]
    [InlineData("shared-buffer-lanes")]
    [InlineData("shared-buffer-int8-lanes")]
    [InlineData("shared-buffer-fp16-kv-lanes")]
    public void Decode_rows_and_chunks_in_one_call_compute_what_each_computes_alone(string variant)
    {
        var session = models.Session(variant);
        session.PromptLanes.Should().Be(4);
        using var alone = Prepared(session);
        using var mixed = Prepared(session);
        var (decodeIds, decodePositions) = DecodeInputs(alone);
        var chunks = Chunks();

        using var decodeAlone = session.StepSlots(decodeIds, decodePositions, 1, alone, 0, 3, 1);
        using var firstAlone = session.StepSlots(chunks[0].Ids, chunks[0].Positions, chunks[0].Ids.Length, alone, 3, 1, 3);
        using var secondAlone = session.StepSlots(chunks[1].Ids, chunks[1].Positions, chunks[1].Ids.Length, alone, 4, 1, 1);
        using var together = session.StepMixed(mixed, 0, decodeIds, decodePositions, chunks);

        for (int r = 0; r < 3; r++) together.Decode(r).ToArray().Should().Equal(decodeAlone.Last(r).ToArray(), $"decode row {r}");
        together.Chunk(0).Positions.Should().Be(3);
        for (int p = 0; p < 3; p++) together.Chunk(0).Row(0, p).ToArray().Should().Equal(firstAlone.Row(0, p).ToArray(), $"chunk 0, position {p}");
        together.Chunk(1).Last(0).ToArray().Should().Equal(secondAlone.Last(0).ToArray());
        SameSlots(mixed, alone, slots: 5);
    }

    [Fact]
    public void A_call_without_decode_rows_and_with_unused_lanes_writes_only_its_chunks_slot()
    {
        var session = models.Session("shared-buffer-lanes");
        using var alone = Prepared(session);
        using var mixed = Prepared(session);
        var chunk = Chunks()[1];

        using var lane = session.StepMixed(mixed, 0, [], [], [chunk]);
        using var plain = session.StepSlots(chunk.Ids, chunk.Positions, chunk.Ids.Length, alone, chunk.Slot, 1, 1);

        lane.Chunk(0).Last(0).ToArray().Should().Equal(plain.Last(0).ToArray());
        SameSlots(mixed, alone, slots: 5);
    }

    [Theory]
    [InlineData("shared-buffer-lanes", "shared-buffer")]
    [InlineData("shared-buffer-int8-lanes", "shared-buffer-int8")]
    public void A_model_with_lanes_computes_what_the_same_model_without_them_computes(string withLanes, string without)
    {
        var lanes = models.Session(withLanes);
        var plain = models.Session(without);
        plain.PromptLanes.Should().Be(0);
        using var a = Prepared(lanes);
        using var b = Prepared(plain);
        var (ids, positions) = DecodeInputs(a);
        for (int step = 0; step < 3; step++)
        {
            using var fromLanes = lanes.StepSlots(ids, positions, 1, a, 0, 3, 1);
            using var fromPlain = plain.StepSlots(ids, positions, 1, b, 0, 3, 1);
            for (int r = 0; r < 3; r++)
            {
                fromLanes.Last(r).ToArray().Should().Equal(fromPlain.Last(r).ToArray(), $"step {step}, row {r}");
                ids[r] = LogitMath.ArgMax(fromLanes.Last(r));
                positions[r]++;
            }
        }
        SameSlots(a, b, slots: 3);
    }

    [Fact]
    public void More_chunks_than_lanes_or_one_slot_twice_is_refused_and_changes_nothing()
    {
        var session = models.Session("shared-buffer-lanes");
        using var cache = Prepared(session);
        using var untouched = Prepared(session);
        var chunk = Chunks()[0];

        var tooMany = () => session.StepMixed(cache, 0, [], [], Enumerable.Range(0, 5).Select(k => chunk with { Slot = 3 + k }).ToArray());
        var twice = () => session.StepMixed(cache, 0, [1], [5], [chunk with { Slot = 0 }]);

        tooMany.Should().Throw<ArgumentException>().WithMessage("*4 prompt lanes*");
        twice.Should().Throw<ArgumentException>().WithMessage("*slot 0 appears twice*");
        SameSlots(cache, untouched, slots: 5);
    }

    /// <summary>A cache whose slots hold <see cref="Cached"/> positions, prefilled slot by slot.</summary>
    private static SlotKvCache Prepared(DecoderSession session)
    {
        var cache = session.CreateSlotCache();
        cache.Reserve(8, 64);
        for (int slot = 0; slot < Cached.Length; slot++)
        {
            if (Cached[slot] == 0) continue;
            long[] ids = [.. Enumerable.Range(0, Cached[slot]).Select(i => (long)(100 + 37 * i + 11 * slot))];
            long[] positions = [.. Enumerable.Range(0, Cached[slot]).Select(i => (long)i)];
            session.StepSlots(ids, positions, ids.Length, cache, slot, 1, 1).Dispose();
        }
        return cache;
    }

    private static (long[] Ids, long[] Positions) DecodeInputs(SlotKvCache cache) =>
        ([7, 250, 999], [.. Enumerable.Range(0, 3).Select(r => (long)cache.LengthOf(r))]);

    /// <summary>A 4-token chunk starting slot 3's prompt (three kept logits), a 5-token chunk continuing slot 4's.</summary>
    private static LaneChunk[] Chunks() =>
    [
        new(3, [40, 41, 42, 43], [0, 1, 2, 3], 3),
        new(4, [500, 501, 502, 503, 504], [6, 7, 8, 9, 10]),
    ];

    private static void SameSlots(SlotKvCache actual, SlotKvCache expected, int slots)
    {
        for (int slot = 0; slot < slots; slot++)
        {
            actual.LengthOf(slot).Should().Be(expected.LengthOf(slot), $"slot {slot}'s length");
            for (int l = 0; l < actual.Layers; l++)
            {
                for (int h = 0; h < actual.KvHeads; h++)
                {
                    foreach (bool key in new[] { true, false })
                    {
                        actual.Positions(l, key, slot, h, 0, actual.LengthOf(slot)).ToArray()
                            .Should().Equal(expected.Positions(l, key, slot, h, 0, expected.LengthOf(slot)).ToArray(), $"slot {slot}, layer {l}, head {h}");
                    }
                }
            }
        }
    }
}
