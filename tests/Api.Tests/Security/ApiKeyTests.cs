using System.Net;
using System.Text;
using FluentAssertions;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>
/// API keys on the embedded Api: 401 without a valid key (in each route family's error style), open
/// health probes, tenants that cannot see each other's conversations, admin-only operations, limits
/// counted per key with each tenant's own, and wrong keys that buy nothing.
/// </summary>
public sealed class ApiKeyTests(KeyedApi fixture) : IClassFixture<KeyedApi>
{
    private static readonly object Completion = new { model = "qwen-aio", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 2 };

    [Fact]
    public async Task Without_a_valid_key_requests_get_401_in_the_error_style_of_their_route()
    {
        var (status, problem, response) = await fixture.SendAsync(HttpMethod.Post, "/v1/sentiment", null, new { text = "nice" });
        status.Should().Be(401);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        problem.GetProperty("status").GetInt32().Should().Be(401);
        problem.GetProperty("detail").GetString().Should().Contain("an API key is required");
        response.Headers.WwwAuthenticate.ToString().Should().StartWith("Bearer");

        var (wrong, error, _) = await fixture.SendAsync(HttpMethod.Post, "/v1/chat/completions", "not-a-key-of-ours", Completion);
        wrong.Should().Be(401);
        error.GetProperty("error").GetProperty("type").GetString().Should().Be("authentication_error");
        error.GetProperty("error").GetProperty("code").GetString().Should().Be("invalid_api_key");
        error.GetProperty("error").GetProperty("message").GetString().Should().Contain("not valid");

        foreach (string path in (string[])["/v1/models", "/v1/conversations/alice", "/openapi/v1.json", "/nothing-here"])
            (await fixture.SendAsync(HttpMethod.Get, path, null)).Status.Should().Be(401, path);
        foreach (string path in (string[])["/healthz", "/readyz"])
            (await fixture.SendAsync(HttpMethod.Get, path, null)).Status.Should().Be(200, $"{path} stays open");

        // The OpenAPI document says how to send the key.
        var (documented, openApi, _) = await fixture.SendAsync(HttpMethod.Get, "/openapi/v1.json", KeyedApi.AcmeKey);
        documented.Should().Be(200);
        var schemes = openApi.GetProperty("components").GetProperty("securitySchemes");
        schemes.GetProperty("bearer").GetProperty("scheme").GetString().Should().Be("bearer");
        schemes.GetProperty("api_key").GetProperty("name").GetString().Should().Be("X-Api-Key");
        openApi.GetProperty("security").GetArrayLength().Should().Be(2);

        // Both headers carry a key.
        (await fixture.SendAsync(HttpMethod.Post, "/v1/sentiment", KeyedApi.AcmeKey, new { text = "nice" })).Status.Should().Be(200);
        (await fixture.SendAsync(HttpMethod.Post, "/v1/sentiment", KeyedApi.GlobexKey, new { text = "nice" }, header: "X-Api-Key"))
            .Status.Should().Be(200, "a key configured by its hash is found by the key");
    }

    [Fact]
    public async Task A_tenant_cannot_read_write_or_delete_another_tenants_conversation_of_the_same_user_id()
    {
        const string user = "same-user";
        (await fixture.SendAsync(HttpMethod.Post, $"/v1/conversations/{user}/messages", KeyedApi.AcmeKey, new { content = "acme's words" }))
            .Status.Should().Be(200);

        // Globex sees no such conversation, and cannot delete it.
        var (read, problem, _) = await fixture.SendAsync(HttpMethod.Get, $"/v1/conversations/{user}", KeyedApi.GlobexKey);
        read.Should().Be(404);
        problem.GetProperty("detail").GetString().Should().Be($"there is no conversation of user '{user}'");
        (await fixture.SendAsync(HttpMethod.Delete, $"/v1/conversations/{user}", KeyedApi.GlobexKey)).Status.Should().Be(404);

        // What globex writes under the same id is its own conversation, through either route.
        (await fixture.SendAsync(HttpMethod.Post, $"/v1/conversations/{user}/messages", KeyedApi.GlobexKey, new { content = "globex's words" }))
            .Status.Should().Be(200);
        (await fixture.SendAsync(HttpMethod.Post, "/v1/chat/completions", KeyedApi.GlobexKey,
            new { model = "qwen-aio", messages = new[] { new { role = "user", content = "more from globex" } }, user, max_tokens = 2 }))
            .Status.Should().Be(200);

        (await UserMessagesAsync(KeyedApi.AcmeKey, user)).Should().Equal("acme's words");
        (await UserMessagesAsync(KeyedApi.GlobexKey, user)).Should().Equal("globex's words", "more from globex");

        // The other way round: acme deletes its own, globex's stays; then acme finds nothing.
        (await fixture.SendAsync(HttpMethod.Delete, $"/v1/conversations/{user}", KeyedApi.AcmeKey)).Status.Should().Be(204);
        (await fixture.SendAsync(HttpMethod.Get, $"/v1/conversations/{user}", KeyedApi.AcmeKey)).Status.Should().Be(404);
        (await UserMessagesAsync(KeyedApi.GlobexKey, user)).Should().HaveCount(2);

        // OpenAI's user is a conversation within the caller's tenant too.
        (await fixture.SendAsync(HttpMethod.Post, "/v1/chat/completions", KeyedApi.AcmeKey,
            new { model = "qwen-aio", messages = new[] { new { role = "user", content = "acme via openai" } }, user = "oa-user", max_tokens = 2 }))
            .Status.Should().Be(200);
        (await fixture.SendAsync(HttpMethod.Get, "/v1/conversations/oa-user", KeyedApi.GlobexKey)).Status.Should().Be(404);
        (await UserMessagesAsync(KeyedApi.AcmeKey, "oa-user")).Should().Equal("acme via openai");
    }

    [Fact]
    public async Task Operations_need_an_admin_key_403_for_others_and_the_dashboards_ask_browsers_for_the_key()
    {
        foreach (string path in (string[])["/v1/cluster/status", "/v1/cluster/scale", "/metrics", "/dashboard/", "/orleans-dashboard/"])
        {
            var (status, body, _) = await fixture.SendAsync(HttpMethod.Get, path, KeyedApi.AcmeKey);
            status.Should().Be(403, path);
            body.GetProperty("detail").GetString().Should().Contain("needs an admin key; key acme-1 is not one");
            (await fixture.SendAsync(HttpMethod.Get, path, KeyedApi.AdminKey)).Status.Should().Be(200, path);
        }

        var (challenged, _, response) = await fixture.SendAsync(HttpMethod.Get, "/dashboard/", null);
        challenged.Should().Be(401);
        response.Headers.WwwAuthenticate.ToString().Should().StartWith("Basic realm=\"qwen-aio\"");
        using var browser = new HttpRequestMessage(HttpMethod.Get, fixture.Api.Url + "/dashboard/");
        browser.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("anyone:" + KeyedApi.AdminKey)));
        using var page = await fixture.Api.Http.SendAsync(browser);
        page.StatusCode.Should().Be(HttpStatusCode.OK, "a browser sends the key as the Basic password");
    }

    [Fact]
    public async Task Metrics_are_open_to_the_configured_scraper_address_only()
    {
        using var scraper = KeyedApi.ClientFrom(IPAddress.Parse("127.0.0.2"));
        using var scraped = await scraper.GetAsync(fixture.Api.Url + "/metrics");
        scraped.StatusCode.Should().Be(HttpStatusCode.OK);
        (await scraped.Content.ReadAsStringAsync()).Should().Contain("qwen_api_requests");
        using var other = await scraper.GetAsync(fixture.Api.Url + "/v1/cluster/status");
        other.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "only /metrics is open to the scraper");

        using var elsewhere = KeyedApi.ClientFrom(IPAddress.Parse("127.0.0.3"));
        (await elsewhere.GetAsync(fixture.Api.Url + "/metrics")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Limits_count_per_key_with_each_tenants_own_and_invented_keys_buy_nothing()
    {
        for (int i = 0; i < KeyedApi.SmallTenantBurst; i++)
            (await fixture.SendAsync(HttpMethod.Get, "/v1/models", KeyedApi.SmallKey)).Status.Should().Be(200);
        var (limited, _, response) = await fixture.SendAsync(HttpMethod.Get, "/v1/models", KeyedApi.SmallKey);
        limited.Should().Be(429, "tenant 'small' may send 2 requests in a burst");
        response.Headers.RetryAfter.Should().NotBeNull();
        (await fixture.SendAsync(HttpMethod.Get, "/v1/models", KeyedApi.AcmeKey)).Status.Should().Be(200, "other tenants keep the default limits");

        // Wrong keys, each new, from one address: 401 until the burst of failures is spent, then 429 even for a new one.
        using var guesser = KeyedApi.ClientFrom(IPAddress.Parse("127.0.0.4"));
        var statuses = new List<int>();
        for (int i = 0; i < KeyedApi.FailedKeyBurst + 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Api.Url + "/v1/models");
            request.Headers.Add("X-Api-Key", $"guess-{Guid.NewGuid():N}");
            using var answer = await guesser.SendAsync(request);
            statuses.Add((int)answer.StatusCode);
        }
        statuses.Should().Equal([.. Enumerable.Repeat(401, KeyedApi.FailedKeyBurst), 429, 429, 429]);
    }

    private async Task<string[]> UserMessagesAsync(string key, string user)
    {
        var (status, history, _) = await fixture.SendAsync(HttpMethod.Get, $"/v1/conversations/{user}", key);
        status.Should().Be(200, history.ToString());
        return [.. history.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("role").GetString() == "user")
            .Select(m => m.GetProperty("content").GetString()!)];
    }
}
