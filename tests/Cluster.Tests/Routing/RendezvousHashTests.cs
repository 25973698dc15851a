using FluentAssertions;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Routing;
using Xunit;

namespace Qwen.Cluster.Tests.Routing;

public sealed class RendezvousHashTests
{
    private const int KeyCount = 30_000;
    private static readonly string[] ThreeSilos = ["silo-1", "silo-2", "silo-3"];
    private static readonly string[] Keys = [.. Enumerable.Range(0, KeyCount).Select(i => $"user-{i}")];

    [Fact]
    public void Weights_are_pinned_so_every_build_and_process_routes_alike()
    {
        // Changing the hash would move every conversation at the next deployment.
        RendezvousHash.Weight("user-1", "silo-1").Should().Be(PinnedWeightUser1Silo1);
        RendezvousHash.Weight("", "").Should().Be(PinnedWeightEmpty);
        RendezvousHash.Weight("ab", "c").Should().NotBe(RendezvousHash.Weight("a", "bc"));
        RendezvousHash.Weight("c", "ab").Should().NotBe(RendezvousHash.Weight("bc", "a"));
    }

    [Fact]
    public void Ranking_is_deterministic_and_ignores_the_order_silos_are_listed_in()
    {
        foreach (string key in Keys.Take(500))
        {
            IReadOnlyList<string> rank = RendezvousHash.Rank(key, ThreeSilos);
            RendezvousHash.Rank(key, ThreeSilos.Reverse()).Should().Equal(rank);
            RendezvousHash.Rank(key, [ThreeSilos[1], ThreeSilos[2], ThreeSilos[0]]).Should().Equal(rank);
            RendezvousHash.Owner(key, ThreeSilos.Reverse()).Should().Be(rank[0]);
            rank.Should().BeEquivalentTo(ThreeSilos);
        }
    }

    [Fact]
    public void Keys_spread_evenly_over_the_silos()
    {
        Dictionary<string, int> counts = Keys.GroupBy(k => RendezvousHash.Owner(k, ThreeSilos)!).ToDictionary(g => g.Key, g => g.Count());

        counts.Keys.Should().BeEquivalentTo(ThreeSilos);
        counts.Values.Should().OnlyContain(c => Math.Abs(c - (KeyCount / 3)) < KeyCount / 3 * 0.05, "each silo owns a third of the keys, within 5%");
    }

    [Fact]
    public void Adding_a_fourth_silo_moves_about_a_quarter_of_the_keys_all_to_the_new_silo()
    {
        string[] four = [.. ThreeSilos, "silo-4"];

        var moved = Keys.Where(k => RendezvousHash.Owner(k, ThreeSilos) != RendezvousHash.Owner(k, four)).ToList();

        moved.Should().OnlyContain(k => RendezvousHash.Owner(k, four) == "silo-4");
        ((double)moved.Count / KeyCount).Should().BeInRange(0.23, 0.27);
    }

    [Fact]
    public void Removing_a_silo_moves_only_its_own_keys_and_spreads_them_over_the_rest()
    {
        string[] two = ["silo-1", "silo-3"];

        var moved = Keys.Where(k => RendezvousHash.Owner(k, ThreeSilos) != RendezvousHash.Owner(k, two)).ToList();

        moved.Should().OnlyContain(k => RendezvousHash.Owner(k, ThreeSilos) == "silo-2");
        moved.Should().HaveCount(Keys.Count(k => RendezvousHash.Owner(k, ThreeSilos) == "silo-2"));
        moved.GroupBy(k => RendezvousHash.Owner(k, two)).Should().HaveCount(2)
            .And.OnlyContain(g => g.Count() > moved.Count * 0.45);
    }

    [Fact]
    public void The_next_silo_in_the_ranking_is_the_owner_once_the_first_is_gone()
    {
        foreach (string key in Keys.Take(1000))
        {
            IReadOnlyList<string> rank = RendezvousHash.Rank(key, ThreeSilos);
            RendezvousHash.Owner(key, ThreeSilos.Where(s => s != rank[0])).Should().Be(rank[1]);
        }
    }

    [Fact]
    public void Records_rank_by_silo_id_and_duplicates_and_empty_lists_are_handled()
    {
        SiloRecord[] records = [.. ThreeSilos.Select(id => new SiloRecord(id, $"http://{id}:7101", SiloStatus.Active, SiloLoad.Idle, default, default))];

        RendezvousHash.Rank("user-42", records, r => r.SiloId).Select(r => r.SiloId)
            .Should().Equal(RendezvousHash.Rank("user-42", ThreeSilos));
        RendezvousHash.Rank("user-42", [.. ThreeSilos, .. ThreeSilos]).Should().Equal(RendezvousHash.Rank("user-42", ThreeSilos));
        RendezvousHash.Rank("user-42", []).Should().BeEmpty();
        RendezvousHash.Owner("user-42", []).Should().BeNull();
    }

    [Fact]
    public void Unicode_and_long_keys_hash_without_trouble()
    {
        string longKey = new('x', 100_000);
        RendezvousHash.Owner(longKey, ThreeSilos).Should().Be(RendezvousHash.Owner(longKey, ThreeSilos.Reverse()));
        RendezvousHash.Weight("用户-😀", "silo-1").Should().NotBe(RendezvousHash.Weight("用户-😁", "silo-1"));
    }

    // FNV-1a 64 of UTF-8(silo) + 0xFF + UTF-8(key), then murmur3 fmix64 (computed outside .NET).
    private const ulong PinnedWeightUser1Silo1 = 4044720029870919128;
    private const ulong PinnedWeightEmpty = 532481765891410901;
}
