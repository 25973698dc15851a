using FluentAssertions;
using Qwen.Inference.Generation;
using Xunit;

namespace Qwen.Inference.Tests.Generation;

public sealed class SeededRandomTests
{
    // From the reference C of xoshiro256** and splitmix64 (splitmix64(0) starts 0xe220a8397b1dcdaf).
    [Theory]
    [InlineData(0UL, new[] { 0x99ec5f36cb75f2b4UL, 0xbf6e1f784956452aUL, 0x1a5f849d4933e6e0UL, 0x6aa594f1262d2d2cUL })]
    [InlineData(42UL, new[] { 0x15780b2e0c2ec716UL, 0x6104d9866d113a7eUL, 0xae17533239e499a1UL, 0xecb8ad4703b360a1UL })]
    public void Matches_the_reference_generator(ulong seed, ulong[] expected)
    {
        var random = new SeededRandom(seed);
        expected.Select(_ => random.NextUInt64()).Should().Equal(expected);
    }

    [Fact]
    public void NextDouble_uses_the_top_53_bits()
    {
        new SeededRandom(0).NextDouble().Should().Be((0x99ec5f36cb75f2b4UL >> 11) / 9007199254740992.0);
    }

    [Fact]
    public void NextDouble_is_uniform_in_the_unit_interval()
    {
        var random = new SeededRandom(7);
        var draws = Enumerable.Range(0, 100_000).Select(_ => random.NextDouble()).ToArray();
        draws.Should().OnlyContain(d => d >= 0 && d < 1);
        draws.Average().Should().BeApproximately(0.5, 0.005);
        draws.Count(d => d < 0.1).Should().BeInRange(9_500, 10_500);
    }
}
