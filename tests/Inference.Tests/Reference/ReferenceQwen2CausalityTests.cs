using FluentAssertions;
using Qwen.Inference.Models;
using Qwen.Inference.Reference;
using Xunit;

namespace Qwen.Inference.Tests.Reference;

public sealed class ReferenceQwen2CausalityTests
{
    [Fact]
    public void Appending_tokens_does_not_change_earlier_logits()
    {
        // A small vocabulary keeps this fast; a non-zero seed checks causality is not weight-specific.
        QwenConfig config = QwenConfig.Tiny with { VocabSize = 512 };
        var model = new ReferenceQwen2(config, new HashWeightSource(config, seed: 7));
        int[] prefix = [3, 141, 59, 265];
        int[] extended = [.. prefix, 358, 97, 9];

        float[][] shortRun = model.Forward(prefix);
        float[][] longRun = model.Forward(extended);

        for (int t = 0; t < prefix.Length; t++)
            longRun[t].Should().Equal(shortRun[t], $"position {t} must only see tokens 0..{t}");
    }

    [Fact]
    public void Untied_model_uses_lm_head()
    {
        QwenConfig tied = QwenConfig.Tiny with { VocabSize = 256 };
        QwenConfig untied = tied with { TieWordEmbeddings = false };
        int[] ids = [1, 2, 3];

        float[] a = new ReferenceQwen2(tied, new HashWeightSource(tied)).LastLogits(ids);
        float[] b = new ReferenceQwen2(untied, new HashWeightSource(untied)).LastLogits(ids);

        b.Should().NotEqual(a);
    }
}
