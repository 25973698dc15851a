using System.Runtime.InteropServices;
using FluentAssertions;
using Qwen.Inference.Engine;
using Xunit;

namespace Qwen.Inference.Tests.Engine;

/// <summary>
/// With <see cref="SlotKvCache.ReturnFreedPages"/>, a KV slot that gives up positions gives their
/// memory back, and nothing else changes: the positions it keeps and every other slot read as before.
/// </summary>
public sealed class SlotKvPagesTests
{
    private const int Layers = 4, KvHeads = 16, HeadDim = 64, Capacity = 4096;

    [Fact]
    public void Emptying_a_full_slot_returns_its_pages_and_keeps_every_other_value()
    {
        using var cache = new SlotKvCache(Layers, KvHeads, HeadDim) { ReturnFreedPages = true };
        cache.Reserve(3, Capacity);
        for (int slot = 0; slot < 3; slot++) Fill(cache, slot, Capacity);
        long slotBytes = 2L * Layers * KvHeads * Capacity * HeadDim * sizeof(float); // 128 MiB

        long before = ResidentBytes();
        cache.SetLength(1, 0);
        long afterEmpty = ResidentBytes();
        cache.SetLength(2, 100);
        long afterShrink = ResidentBytes();

        (before - afterEmpty).Should().BeGreaterThan(slotBytes * 9 / 10, "the emptied slot's pages went back");
        (afterEmpty - afterShrink).Should().BeGreaterThan(slotBytes * 9 / 10 * (Capacity - 100) / Capacity, "positions past the new length went back");
        Check(cache, 0, Capacity);
        Check(cache, 2, 100);
    }

    [Fact]
    public void A_slot_refilled_after_its_pages_went_back_holds_what_is_written()
    {
        using var cache = new SlotKvCache(Layers, KvHeads, HeadDim) { ReturnFreedPages = true };
        cache.Reserve(2, 256);
        Fill(cache, 0, 256);
        Fill(cache, 1, 256);
        cache.Move(1, 0); // slot 0 takes slot 1's sequence; slot 1 is empty and gives its pages back
        cache.LengthOf(1).Should().Be(0);
        Check(cache, 0, 256, seed: 1);
        Fill(cache, 1, 200, seed: 7);
        Check(cache, 1, 200, seed: 7);
        Check(cache, 0, 256, seed: 1);
    }

    [Fact]
    public void Without_the_option_an_emptied_slot_keeps_its_pages()
    {
        using var cache = new SlotKvCache(Layers, KvHeads, HeadDim);
        cache.Reserve(2, Capacity);
        Fill(cache, 0, Capacity);
        Fill(cache, 1, Capacity);
        long slotBytes = 2L * Layers * KvHeads * Capacity * HeadDim * sizeof(float);

        long before = ResidentBytes();
        cache.SetLength(1, 0);
        (before - ResidentBytes()).Should().BeLessThan(slotBytes / 10, "pages stay for the next sequence in the slot");
        Check(cache, 0, Capacity);
    }

    private static void Fill(SlotKvCache cache, int slot, int length, int seed = -1)
    {
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < KvHeads; h++)
            {
                var keys = MemoryMarshal.Cast<byte, float>(cache.Positions(l, true, slot, h, 0, length));
                var values = MemoryMarshal.Cast<byte, float>(cache.Positions(l, false, slot, h, 0, length));
                for (int i = 0; i < keys.Length; i++)
                {
                    keys[i] = Value(seed < 0 ? slot : seed, l, h, i);
                    values[i] = -Value(seed < 0 ? slot : seed, l, h, i);
                }
            }
        }
        cache.SetLength(slot, length);
    }

    private static void Check(SlotKvCache cache, int slot, int length, int seed = -1)
    {
        cache.LengthOf(slot).Should().Be(length);
        for (int l = 0; l < Layers; l++)
        {
            for (int h = 0; h < KvHeads; h++)
            {
                var keys = MemoryMarshal.Cast<byte, float>(cache.Positions(l, true, slot, h, 0, length));
                var values = MemoryMarshal.Cast<byte, float>(cache.Positions(l, false, slot, h, 0, length));
                for (int i = 0; i < keys.Length; i++)
                {
                    float expected = Value(seed < 0 ? slot : seed, l, h, i);
                    if (keys[i] != expected || values[i] != -expected)
                        throw new Xunit.Sdk.XunitException($"slot {slot}, layer {l}, head {h}, element {i}: {keys[i]}/{values[i]}, expected ±{expected}");
                }
            }
        }
    }

    private static float Value(int slot, int layer, int head, int index) => slot * 1e6f + layer * 1e4f + head * 100f + index % 97 + 1;

    /// <summary>This process's resident memory, from the kernel.</summary>
    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
