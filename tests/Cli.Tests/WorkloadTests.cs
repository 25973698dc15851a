using FluentAssertions;
using Qwen.Cli.Measurement;
using Qwen.Cli.Workload;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary>The mixed workload's inputs and the options that shape it.</summary>
public sealed class WorkloadTests
{
    [Fact]
    public void Sentences_are_natural_chinese_and_english_of_15_to_45_characters()
    {
        var all = WorkloadSentences.All;
        all.Should().HaveCountGreaterThanOrEqualTo(200).And.OnlyHaveUniqueItems();
        all.Should().OnlyContain(s => s.Length >= WorkloadSentences.MinChars && s.Length <= WorkloadSentences.MaxChars);
        int chinese = all.Count(s => s.Any(c => c >= '\u4e00' && c <= '\u9fff'));
        chinese.Should().BeGreaterThanOrEqualTo(100);
        (all.Count - chinese).Should().BeGreaterThanOrEqualTo(100);
    }

    [Fact]
    public void A_seed_gives_the_same_requests_and_the_mix_is_respected()
    {
        var a = WorkloadRequest.Sequence(2000, 7, WorkloadMix.Parse("sentiment=3,chat=1", "--mix"));
        a.Should().Equal(WorkloadRequest.Sequence(2000, 7, WorkloadMix.Parse("sentiment=0.75,chat=0.25", "--mix")));
        a.Count(r => r.Task == WorkloadTask.Sentiment).Should().BeInRange(1400, 1600);
        WorkloadRequest.Sequence(50, 1, WorkloadMix.Parse("chat=1", "--mix")).Should().OnlyContain(r => r.Task == WorkloadTask.Chat);
    }

    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("60s", 60)]
    [InlineData("10m", 600)]
    [InlineData("1.5h", 5400)]
    [InlineData("90", 90)]
    public void Durations_parse(string text, double seconds) =>
        DurationText.Parse(text, "--duration").TotalSeconds.Should().BeApproximately(seconds, 1e-9);

    [Fact]
    public void Percentiles_interpolate_between_ranks()
    {
        double[] values = [40, 10, 30, 20];
        Percentiles.Of(values, 50).Should().Be(25);
        Percentiles.Of(values, 0).Should().Be(10);
        Percentiles.Of(values, 100).Should().Be(40);
        Percentiles.Of([], 50).Should().BeNull();
    }
}
