using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;
using Qwen.Inference.Engine;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Qwen.Inference.Tests.Batching;

/// <summary>The prefix cache as a data structure: content addressing, copies, the LRU budget and pins (no model needed).</summary>
public sealed class PrefixCacheTests
{
    private const int Layers = 2, Heads = 2, HeadDim = 8;
    private const int Block = PrefixCache.BlockTokens;

    [Theory]
    [InlineData(TensorElementType.Float)]
    [InlineData(TensorElementType.Float16)]
    public void A_prompt_starting_with_cached_blocks_gets_their_kv_and_only_up_to_the_limit(TensorElementType kvType)
    {
        var cache = new PrefixCache(1024);
        using var kv = Slots(kvType);
        int[] first = Tokens(1, 40);
        Fill(kv, 0, first.Length, seed: 7);
        cache.Insert(first, kv, 0);
        cache.CachedTokens.Should().Be(2 * Block, "only whole blocks are kept");

        int[] second = [.. first[..35], .. Tokens(2, 10)];
        cache.CopyLongestPrefix(second, second.Length - 2, kv, 1).Should().Be(2 * Block);
        kv.LengthOf(1).Should().Be(2 * Block);
        SamePositions(kv, 0, 1, 2 * Block).Should().BeTrue("the copied KV is the cached prompt's");

        cache.CopyLongestPrefix(first[..33], 31, kv, 2).Should().Be(31, "a hit may end inside a block, before the prompt's last two tokens");
        SamePositions(kv, 0, 2, 31).Should().BeTrue();
        cache.Hits.Should().Be(2);
        cache.HitTokens.Should().Be(2 * Block + 31);
    }

    [Fact]
    public void A_different_token_anywhere_in_a_block_is_a_miss_from_that_block_on()
    {
        var cache = new PrefixCache(1024);
        using var kv = Slots();
        int[] prompt = Tokens(3, 48);
        Fill(kv, 0, prompt.Length, seed: 1);
        cache.Insert(prompt, kv, 0);

        int[] changedFirst = (int[])prompt.Clone();
        changedFirst[5]++;
        cache.CopyLongestPrefix(changedFirst, 46, kv, 1).Should().Be(0);
        cache.Misses.Should().Be(1);
        int[] changedSecond = (int[])prompt.Clone();
        changedSecond[Block + 3]++;
        cache.CopyLongestPrefix(changedSecond, 46, kv, 1).Should().Be(Block);
    }

    [Fact]
    public void Least_recently_used_blocks_leave_first_and_pinned_ones_stay()
    {
        var cache = new PrefixCache(3 * Block);
        using var kv = Slots();
        int[] system = Tokens(10, 2 * Block + 3);
        cache.Pin(system[..(2 * Block)]);
        int[] a = [.. system, .. Tokens(11, 20)];
        int[] b = Tokens(12, 2 * Block);
        int[] c = Tokens(13, 2 * Block);
        foreach (var prompt in new[] { a, b, c })
        {
            Fill(kv, 0, prompt.Length, seed: prompt[0]);
            cache.Insert(prompt, kv, 0);
            cache.CachedTokens.Should().BeLessThanOrEqualTo(3 * Block);
        }
        // a's two blocks are pinned; b was evicted for c; c's newest blocks fill the budget.
        cache.CopyLongestPrefix([.. system, 1, 2, 3], system.Length + 1, kv, 1).Should().Be(2 * Block);
        cache.CopyLongestPrefix([.. b, 1, 2], b.Length, kv, 1).Should().Be(0);
        cache.CopyLongestPrefix([.. c, 1, 2], c.Length, kv, 1).Should().Be(Block, "c's first block is kept, its second was evicted first");
    }

    private static SlotKvCache Slots(TensorElementType kvType = TensorElementType.Float)
    {
        var kv = new SlotKvCache(Layers, Heads, HeadDim, kvType);
        kv.Reserve(3, 64);
        return kv;
    }

    private static int[] Tokens(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(0, 150_000)).ToArray();
    }

    private static void Fill(SlotKvCache kv, int slot, int length, int seed)
    {
        var random = new Random(seed);
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < Heads; h++)
            {
                foreach (bool key in new[] { true, false })
                {
                    random.NextBytes(kv.Positions(l, key, slot, h, 0, length));
                }
            }
        }
        kv.SetLength(slot, length);
    }

    private static bool SamePositions(SlotKvCache kv, int a, int b, int count)
    {
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < Heads; h++)
            {
                foreach (bool key in new[] { true, false })
                {
                    if (!kv.Positions(l, key, a, h, 0, count).SequenceEqual(kv.Positions(l, key, b, h, 0, count))) return false;
                }
            }
        }
        return true;
    }
}
