using System.Net;
using System.Text;
using FluentAssertions;
using Microsoft.AspNetCore.Http;
using Qwen.Api.Security;
using Qwen.Grains.Interfaces;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>Configured keys, the scrapers' addresses and the headers a key travels in: each mistake stops the start with one message.</summary>
public sealed class ConfiguredApiKeysTests
{
    [Fact]
    public void Keys_are_found_by_hash_whether_configured_plain_or_hashed_and_a_keys_file_adds_to_the_section()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, $$"""[{"id": "from-file", "tenant": "globex", "admin": true, "hash": "{{ApiKeyHash.Of("file-key")}}"}]""");
            var keys = ConfiguredApiKeys.Load(new AuthOptions
            {
                Keys = [new ConfiguredApiKey { Id = "plain", Tenant = "acme", Key = "plain-key" }],
                KeysFile = file,
            });

            keys.Count.Should().Be(2);
            keys.Find(ApiKeyHash.Of("plain-key")).Should().Be(new ApiKeyRecord("plain", "acme", false));
            keys.Find(ApiKeyHash.Of("file-key")).Should().Be(new ApiKeyRecord("from-file", "globex", true));
            keys.Find(ApiKeyHash.Of("other")).Should().BeNull();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("", "acme", "k", null, "the API key at Auth:Keys:0 has no Id")]
    [InlineData("a", "ac/me", "k", null, "the API key at Auth:Keys:0 has a bad tenant: the tenant id contains '/' at position 2")]
    [InlineData("a", "acme", null, null, "needs exactly one of Key and Hash")]
    [InlineData("a", "acme", "k", "0000000000000000000000000000000000000000000000000000000000000000", "needs exactly one of Key and Hash")]
    [InlineData("a", "acme", null, "ABCDEF", "has a Hash that is not 64 lowercase hex digits")]
    public void A_malformed_key_is_named(string id, string tenant, string? key, string? hash, string message)
    {
        var entry = new ConfiguredApiKey { Id = id, Tenant = tenant, Key = key, Hash = hash };
        var load = () => ConfiguredApiKeys.Load(new AuthOptions { Keys = [entry] });

        load.Should().Throw<InvalidOperationException>().Which.Message.Should().Contain(message);
    }

    [Fact]
    public void Repeated_ids_or_keys_and_an_unreadable_file_are_refused()
    {
        var sameId = () => ConfiguredApiKeys.Load(new AuthOptions
        {
            Keys = [new ConfiguredApiKey { Id = "a", Key = "k1" }, new ConfiguredApiKey { Id = "a", Key = "k2" }],
        });
        sameId.Should().Throw<InvalidOperationException>().WithMessage("*Auth:Keys:1 repeats the id 'a'*");
        var sameKey = () => ConfiguredApiKeys.Load(new AuthOptions
        {
            Keys = [new ConfiguredApiKey { Id = "a", Key = "k1" }, new ConfiguredApiKey { Id = "b", Hash = ApiKeyHash.Of("k1") }],
        });
        sameKey.Should().Throw<InvalidOperationException>().WithMessage("*Auth:Keys:1 repeats a key given before*");
        var missing = () => ConfiguredApiKeys.Load(new AuthOptions { KeysFile = "/nonexistent/keys.json" });
        missing.Should().Throw<InvalidOperationException>().WithMessage("*Auth:KeysFile '/nonexistent/keys.json' cannot be read*");
    }

    [Fact]
    public void Scraper_addresses_are_addresses_or_ranges()
    {
        var scrapers = new MetricsScrapers(["10.0.0.7", "192.168.1.0/24"]);

        scrapers.Allows(IPAddress.Parse("10.0.0.7")).Should().BeTrue();
        scrapers.Allows(IPAddress.Parse("::ffff:10.0.0.7")).Should().BeTrue("an IPv4 client on a dual-stack socket");
        scrapers.Allows(IPAddress.Parse("192.168.1.200")).Should().BeTrue();
        scrapers.Allows(IPAddress.Parse("10.0.0.8")).Should().BeFalse();
        scrapers.Allows(null).Should().BeFalse();
        var bad = () => new MetricsScrapers(["prometheus.internal"]);
        bad.Should().Throw<InvalidOperationException>().WithMessage("*'prometheus.internal', which is neither an IP address nor a range*");
    }

    [Theory]
    [InlineData("X-Api-Key", "  k1  ", "k1")]
    [InlineData("Authorization", "Bearer k2", "k2")]
    [InlineData("Authorization", "bearer   k3", "k3")]
    [InlineData("Authorization", "Bearer ", null)]
    [InlineData("Authorization", "Token k4", null)]
    [InlineData("Authorization", "Basic dXNlcjprNQ==", "k5")] // user:k5
    [InlineData("Authorization", "Basic dXNlcg==", null)] // user, no password
    [InlineData("Authorization", "Basic !!!", null)]
    public void A_key_is_read_from_X_Api_Key_a_bearer_token_or_a_Basic_password(string header, string value, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers[header] = value;

        PresentedKey.Of(context.Request).Should().Be(expected);
    }
}
