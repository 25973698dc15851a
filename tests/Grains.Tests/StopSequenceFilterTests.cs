using FluentAssertions;
using Xunit;

namespace Qwen.Grains.Tests;

/// <summary>Stop sequences cut a streamed reply before their first occurrence; no part of one is ever emitted.</summary>
public sealed class StopSequenceFilterTests
{
    private static (string Emitted, bool Stopped) Run(string[] stops, params string[] pieces)
    {
        var filter = new StopSequenceFilter(stops);
        string emitted = string.Concat(pieces.Select(filter.Push));
        return (emitted + filter.Flush(), filter.Stopped);
    }

    [Fact]
    public void Without_stop_sequences_everything_passes_at_once()
    {
        var filter = new StopSequenceFilter([]);
        filter.Push("abc").Should().Be("abc");
        filter.Stopped.Should().BeFalse();
    }

    [Fact]
    public void A_stop_sequence_split_across_pieces_is_found_and_held_back()
    {
        var filter = new StopSequenceFilter(["END"]);
        filter.Push("hello E").Should().Be("hello ", "'E' may begin the stop sequence");
        filter.Push("N").Should().Be("");
        filter.Push("D and more").Should().Be("");
        filter.Stopped.Should().BeTrue();
        filter.Flush().Should().Be("");
    }

    [Fact]
    public void Held_back_text_that_turns_out_not_to_stop_is_released()
    {
        var filter = new StopSequenceFilter(["END"]);
        filter.Push("a E").Should().Be("a ");
        filter.Push("Nx").Should().Be("ENx");
        filter.Push("EN").Should().Be("");
        filter.Flush().Should().Be("EN");
        filter.Stopped.Should().BeFalse();
    }

    [Theory]
    [InlineData(new[] { "。", "!" }, new[] { "你好", "！世界。再见" }, "你好！世界", true)]
    [InlineData(new[] { "xyz", "b" }, new[] { "aaxy", "zb" }, "aa", true)]
    [InlineData(new[] { "ab", "b" }, new[] { "xab" }, "x", true)]
    [InlineData(new[] { "stop" }, new[] { "st", "o", "p" }, "", true)]
    [InlineData(new[] { "stop" }, new[] { "no st", "o" }, "no sto", false)]
    public void The_reply_ends_before_the_earliest_stop_sequence(string[] stops, string[] pieces, string expected, bool stopped)
    {
        var (emitted, wasStopped) = Run(stops, pieces);
        emitted.Should().Be(expected);
        wasStopped.Should().Be(stopped);
    }
}
