using Xunit;
using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Tests.Engine;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Batching;

/// <summary>
/// The facts the shared-buffer engine's exactness rests on, checked bit for bit: a row's keys,
/// values and logits do not depend on how its prompt is cut into chunks (of two tokens or
/// more), nor on which other rows decode in the same step.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class SlotExactnessTests(TinyModels models)
{
    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    [InlineData("shared-buffer-int4")]
    [InlineData("shared-buffer-fp16-kv")]
    [InlineData("shared-buffer-int8-fp16-kv")]
    [InlineData("shared-buffer-int8-kv")]
    [InlineData("shared-buffer-int8-int8-kv")]
    [InlineData("shared-buffer-int8-kv-lanes")]
    [InlineData("shared-buffer-lanes")]
    public void Prompt_kv_and_logits_do_not_depend_on_the_chunking(string variant)
    {
        var session = models.Session(variant);
        int[] prompt = RandomIds(11, 37);
        var (wholeKv, wholeLogits) = Prefill(session, prompt, [37]);
        foreach (int[] chunks in new[] { new[] { 2, 35 }, [10, 20, 7], [16, 16, 5], [35, 2] })
        {
            var (kv, logits) = Prefill(session, prompt, chunks);
            logits.Should().Equal(wholeLogits, $"chunks {string.Join("+", chunks)}");
            kv.Should().Equal(wholeKv, $"chunks {string.Join("+", chunks)}");
        }
    }

    [Theory]
    [InlineData("shared-buffer")]
    [InlineData("shared-buffer-int8")]
    [InlineData("shared-buffer-int4")]
    [InlineData("shared-buffer-fp16-kv")]
    [InlineData("shared-buffer-int8-fp16-kv")]
    [InlineData("shared-buffer-int8-kv")]
    [InlineData("shared-buffer-int8-int8-kv")]
    [InlineData("shared-buffer-int8-kv-lanes")]
    [InlineData("shared-buffer-lanes")]
    public void A_decoding_row_computes_the_same_bits_alone_and_beside_others(string variant)
    {
        var session = models.Session(variant);
        int[][] prompts = [RandomIds(21, 5), RandomIds(22, 17), RandomIds(23, 9)];
        using var cache = session.CreateSlotCache();
        cache.Reserve(4, 32);
        // Slot 3 is the same sequence as slot 1, decoded alone.
        for (int s = 0; s < 4; s++)
        {
            int[] p = prompts[s == 3 ? 1 : s];
            session.StepSlots(p.Select(t => (long)t).ToArray(), p.Select((_, i) => (long)i).ToArray(), p.Length, cache, s, 1).Dispose();
        }
        int[] next = [7, 8, 9];
        using var together = session.StepSlots(next.Select(t => (long)t).ToArray(), prompts.Select(p => (long)p.Length).ToArray(), 1, cache, 0, 3);
        using var alone = session.StepSlots([8], [prompts[1].Length], 1, cache, 3, 1);
        together.Last(1).ToArray().Should().Equal(alone.Last(0).ToArray());
        for (int l = 0; l < session.Io.Layers; l++)
        {
            for (int h = 0; h < cache.KvHeads; h++)
            {
                cache.Positions(l, true, 1, h, 0, 18).ToArray().Should().Equal(cache.Positions(l, true, 3, h, 0, 18).ToArray());
                cache.Positions(l, false, 1, h, 0, 18).ToArray().Should().Equal(cache.Positions(l, false, 3, h, 0, 18).ToArray());
            }
        }
    }

    private static (byte[] Kv, float[] Logits) Prefill(DecoderSession session, int[] prompt, int[] chunks)
    {
        using var cache = session.CreateSlotCache();
        cache.Reserve(1, prompt.Length);
        float[] logits = [];
        int done = 0;
        foreach (int c in chunks)
        {
            using var step = session.StepSlots(prompt[done..(done + c)].Select(t => (long)t).ToArray(),
                Enumerable.Range(done, c).Select(i => (long)i).ToArray(), c, cache, 0, 1);
            logits = step.Last(0).ToArray();
            done += c;
        }
        var kv = new List<byte>();
        for (int l = 0; l < session.Io.Layers; l++)
        {
            for (int h = 0; h < cache.KvHeads; h++)
            {
                kv.AddRange(cache.Positions(l, true, 0, h, 0, prompt.Length).ToArray());
                kv.AddRange(cache.Positions(l, false, 0, h, 0, prompt.Length).ToArray());
            }
        }
        return (kv.ToArray(), logits);
    }
}
