using Xunit;
using FluentAssertions;
using Qwen.Inference.Generation;
using static Qwen.Inference.Tests.Engine.LogitMath;

namespace Qwen.Inference.Tests.Engine;

[Collection(TinyModelCollection.Name)]
public sealed class LabelScorerTests(TinyModels models)
{
    [Fact]
    public void Label_log_probabilities_equal_the_reference_chain_rule()
    {
        var scorer = new LabelScorer(models.Session("fp32"));
        int[] prompt = RandomIds(40, 9);
        IReadOnlyList<int>[] labels = [[101], [2002, 3003], [44, 55, 66], [7]];

        var scores = scorer.Score(prompt, labels);

        for (int k = 0; k < labels.Length; k++)
        {
            var sequence = prompt.Concat(labels[k]).ToArray();
            float[][] logits = models.Reference.Forward(sequence);
            double expected = 0;
            for (int t = 0; t < labels[k].Count; t++)
            {
                var row = logits[prompt.Length - 1 + t];
                expected += row[labels[k][t]] - LogSumExp(row);
            }
            scores[k].LogProbability.Should().BeApproximately(expected, 2e-3, $"label {k}");
        }
        scores.Sum(s => s.Probability).Should().BeApproximately(1.0, 1e-9);
    }

    [Fact]
    public void Batched_scoring_equals_scoring_each_prompt_alone()
    {
        var scorer = new LabelScorer(models.Session("fp32"));
        int[][] prompts = [RandomIds(41, 5), RandomIds(42, 12), RandomIds(43, 2)];
        IReadOnlyList<int>[] labels = [[10, 11], [12], [13, 14, 15]];
        var batched = scorer.ScoreBatch(prompts, labels);
        for (int b = 0; b < prompts.Length; b++)
        {
            var alone = scorer.Score(prompts[b], labels);
            for (int k = 0; k < labels.Length; k++)
                batched[b][k].LogProbability.Should().BeApproximately(alone[k].LogProbability, 1e-4);
        }
    }
}
