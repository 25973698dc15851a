using System.Diagnostics;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// Hundreds of hostile requests over raw sockets, across every endpoint (<see cref="HostileRequests"/>, one
/// fixed seed): none gets a 5xx, each gets an answer, the service stays up and ready, a bystander's
/// conversation is untouched and the Api's resident memory stays bounded.
/// </summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class FuzzTests(EmbeddedApiCollection.Fixture fixture, ITestOutputHelper output)
{
    public const int Seed = 14;
    public const int Count = 700;

    /// <summary>Growth of the Api's RSS over the run that is still "bounded": a few 1 MiB bodies and header blocks, and the GC's slack.</summary>
    public const long RssGrowthLimitBytes = 200L * 1024 * 1024;

    private readonly EmbeddedApi _api = fixture.Api;

    [Fact]
    public async Task Hostile_requests_get_no_5xx_and_leave_the_service_a_bystander_and_memory_intact()
    {
        const string bystander = "/v1/conversations/bystander-7f3a";
        (await _api.PostJsonAsync(bystander + "/messages", new { content = "记住我的名字" })).Status.Should().Be(200);
        var (_, before) = await _api.GetJsonAsync(bystander);
        long baseline = ResidentBytes(), peak = baseline;

        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var timeByKind = new SortedDictionary<string, TimeSpan>(StringComparer.Ordinal);
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        int sent = 0;
        foreach (var request in new HostileRequests(Seed).Take(Count))
        {
            long started = Stopwatch.GetTimestamp();
            var response = await RawHttp.ExchangeAsync(_api.Url, request.Bytes, TimeSpan.FromSeconds(20));
            timeByKind[request.Kind] = timeByKind.GetValueOrDefault(request.Kind) + Stopwatch.GetElapsedTime(started);
            string outcome = response is null ? "no answer" : response.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string key = $"{request.Kind} {outcome}";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            if (response is null || (response.Status >= 500 && !IsUnknownHttpVersion(request, response)))
                failures.Add($"#{sent} {request.Kind} {request.Target}: {outcome} {response?.Body[..Math.Min(response.Body.Length, 200)]}");
            if (++sent % 25 == 0) peak = Math.Max(peak, ResidentBytes());
        }
        peak = Math.Max(peak, ResidentBytes());
        output.WriteLine($"{sent} hostile requests in {clock.Elapsed.TotalSeconds:F1} s; RSS {baseline >> 20} MiB before, peak {peak >> 20} MiB");
        foreach (var (key, n) in outcomes) output.WriteLine($"  {key}: {n}");
        foreach (var (kind, time) in timeByKind) output.WriteLine($"  {kind}: {time.TotalSeconds:F1} s in all");

        sent.Should().BeGreaterThanOrEqualTo(600);
        failures.Should().BeEmpty();
        outcomes.Keys.Select(k => k.Split(' ')[0]).Distinct().Should().HaveCountGreaterThan(15, "every kind of hostility was sent");
        (peak - baseline).Should().BeLessThan(RssGrowthLimitBytes, "memory stays bounded under hostile input");
        _api.Process.HasExited.Should().BeFalse();
        (await _api.GetJsonAsync("/healthz")).Status.Should().Be(200);
        (await _api.GetJsonAsync("/readyz")).Status.Should().Be(200);
        (await _api.PostJsonAsync("/v1/sentiment", new { text = "一切正常" })).Status.Should().Be(200);
        var (_, after) = await _api.GetJsonAsync(bystander);
        after.GetRawText().Should().Be(before.GetRawText(), "no hostile request may touch another user's conversation");
    }

    /// <summary>
    /// Kestrel itself answers a request line with an unknown HTTP version 505 (RFC 9110's status for it), before the
    /// Api sees the request: the one 5xx a client can provoke, and it says the client's protocol is at fault.
    /// </summary>
    private static bool IsUnknownHttpVersion(HostileRequest request, RawResponse response) =>
        response.Status == 505 && request.Kind == "bad-request-line";

    private long ResidentBytes()
    {
        string status = File.ReadAllText($"/proc/{_api.Process.Pid}/status");
        string line = status.Split('\n').First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
