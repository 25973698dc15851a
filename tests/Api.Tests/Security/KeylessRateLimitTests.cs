using FluentAssertions;
using Qwen.Api.Tests.PublicApi;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>
/// Without keys (and with a loud warning at start), clients are told apart by address: a new X-Api-Key or bearer value per
/// request buys no new bucket.
/// </summary>
public sealed class KeylessRateLimitTests
{
    [Fact]
    public async Task Inventing_a_key_per_request_does_not_escape_the_per_address_limit()
    {
        await using var api = await EmbeddedApi.StartAsync("--RateLimit:TokenLimit=5", "--RateLimit:TokensPerPeriod=1",
            "--RateLimit:ReplenishmentPeriod=00:05:00");
        var statuses = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, api.Url + "/v1/models");
            if (i % 2 == 0) request.Headers.Add("X-Api-Key", $"invented-{i}");
            else request.Headers.Authorization = new("Bearer", $"invented-{i}");
            var (status, _, response) = await api.SendAsync(request);
            response.Dispose();
            statuses.Add(status);
        }
        statuses.Should().Equal([.. Enumerable.Repeat(200, 5), .. Enumerable.Repeat(429, 7)]);
        api.Process.RecentOutput.Should().Contain("API KEYS ARE OFF (no key is configured", "a keyless Api says so at start");
    }
}
