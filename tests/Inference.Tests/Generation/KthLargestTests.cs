using FluentAssertions;
using Qwen.Inference.Generation;
using Xunit;

namespace Qwen.Inference.Tests.Generation;

public sealed class KthLargestTests
{
    [Fact]
    public void Finds_every_rank_counting_duplicates()
    {
        var random = new Random(5);
        float[] specials = [float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue];
        for (int trial = 0; trial < 20; trial++)
        {
            int n = 1 + random.Next(400);
            float[] values = Enumerable.Range(0, n).Select(_ => random.Next(6) switch
            {
                0 => specials[random.Next(specials.Length)],
                1 => (float)random.Next(-3, 4),
                _ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-5, 6))),
            }).ToArray();
            float[] descending = values.OrderByDescending(v => v).ToArray();
            var scratch = new uint[n];
            for (int k = 1; k <= n; k++)
                KthLargest.Find(values, k, scratch).Should().Be(descending[k - 1], "trial {0}, k = {1}", trial, k);
        }
    }

    [Fact]
    public void Rejects_a_rank_outside_the_values()
    {
        var act = () => KthLargest.Find([1f, 2f], 3, new uint[2]);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
