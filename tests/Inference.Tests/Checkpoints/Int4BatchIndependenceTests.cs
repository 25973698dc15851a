using FluentAssertions;
using Qwen.Inference.Engine;
using Qwen.Inference.Tests.Engine;
using Qwen.Inference.Tests.Golden;
using Xunit;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Checkpoints;

/// <summary>
/// MatMulNBits with accuracy_level 4 quantizes activations per row and block, so a sequence's
/// int4 logits do not depend on what else is in its batch.
/// </summary>
[Collection(GoldenCheckpointCollection.Name)]
public sealed class Int4BatchIndependenceTests(GoldenCheckpoints checkpoints)
{
    [Fact]
    public void A_prompt_gives_the_same_int4_logits_alone_and_batched()
    {
        using var session = DecoderSession.Open(checkpoints.Converted("F32", CheckpointStorage.Sharded, "int4"));
        int[] a = GoldenCases.All[0].InputIds;
        int[] b = RandomIds(5, a.Length);
        float[][] alone = ConverterGoldenTests.AllLogits(session, a);

        using var cache = session.CreateCache(2);
        long[] ids = a.Concat(b).Select(i => (long)i).ToArray();
        long[] mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        long[] positions = Enumerable.Range(0, a.Length).Concat(Enumerable.Range(0, b.Length)).Select(i => (long)i).ToArray();
        using var batched = session.Step(ids, mask, positions, a.Length, cache, 0);
        for (int t = 0; t < a.Length; t++)
            MaxAbsDiff(batched.Row(0, t), alone[t]).Should().BeLessThan(1e-4f, $"position {t}");
    }
}
