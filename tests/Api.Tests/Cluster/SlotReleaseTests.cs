using System.Net.Http.Json;
using System.Text.Json;
using FluentAssertions;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// One silo whose batch holds two long replies: a client that leaves, a request past its
/// deadline and a reply under backlog each show what happens to their place in the batch, as
/// the silo's load snapshot reports it.
/// </summary>
public sealed class SlotReleaseTests(SlotReleaseTests.LongReplyCluster fixture) : IClassFixture<SlotReleaseTests.LongReplyCluster>
{
    public const int MaxBatchSize = 2;
    public const int LongReply = 1500;
    public const int BacklogThreshold = 1;
    public const int CappedTokens = 4;

    private TestCluster Cluster => fixture.Cluster;

    public sealed class LongReplyCluster : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(silos: 1,
        [
            $"--Inference:MaxBatchSize={MaxBatchSize}",
            "--Inference:MaxQueueLength=8",
            "--Inference:ContextWindow=2048",
            $"--Inference:MaxNewTokensLimit={LongReply}",
            "--Inference:KvBudgetTokens=8192",
            $"--Conversations:MaxNewTokens={LongReply}",
            $"--Inference:Degradation:BacklogThreshold={BacklogThreshold}",
            $"--Inference:Degradation:CappedMaxNewTokens={CappedTokens}",
        ]);

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_client_that_disconnects_frees_its_place_in_the_batch_while_the_others_go_on()
    {
        var before = await Cluster.ReadLoadAsync("s1");
        using var leave = new CancellationTokenSource();
        var leaver = Chat("leaver-1", "tell me everything", leave.Token);
        await Cluster.WaitForLoadAsync("s1", l => l.BatchSize == 1, "the first reply decodes");
        var stayer = Chat("stayer-1", "and to me too", CancellationToken.None);
        var full = await Cluster.WaitForLoadAsync("s1", l => l.BatchSize == 2, "both replies decode");

        await leave.CancelAsync();
        await FluentActions.Awaiting(() => leaver).Should().ThrowAsync<OperationCanceledException>();
        var after = await Cluster.WaitForLoadAsync("s1", l => l.Cancelled > before.Cancelled && l.BatchSize == 1,
            "the leaver's row leaves the batch");
        after.Running.Should().Be(1, "the other reply is still running");
        after.DecodedRows.Should().BeGreaterThan(full.DecodedRows, "the batch went on decoding the other reply");

        var (status, body) = await stayer;
        status.Should().Be(200, body.ToString());
        body.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().BeGreaterThan(CappedTokens);
        await Cluster.WaitForLoadAsync("s1", l => l is { Running: 0, BatchSize: 0 }, "the silo is idle");
        (await History("leaver-1")).Should().BeEmpty("a turn whose client left is not stored");
    }

    [Fact]
    public async Task A_stream_reader_that_leaves_mid_stream_frees_its_slot()
    {
        var before = await Cluster.ReadLoadAsync("s1");
        // The Api's server-sent events: the reply streams through Orleans (an IAsyncEnumerable grain call).
        using var message = new HttpRequestMessage(HttpMethod.Post, Cluster.ApiUrl + "/v1/conversations/streamer-1/messages")
        {
            Content = JsonContent.Create(new { content = "stream to me", stream = true }),
        };
        var response = await Cluster.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null && !line.StartsWith("data: ", StringComparison.Ordinal)) { }
        line.Should().NotBeNull("the stream sends events while the reply is generated");
        var decoding = await Cluster.WaitForLoadAsync("s1", l => l.BatchSize == 1, "the streamed reply decodes");

        response.Dispose(); // the reader leaves mid-stream: the connection closes
        var after = await Cluster.WaitForLoadAsync("s1", l => l.Cancelled > before.Cancelled && l is { Running: 0, BatchSize: 0 },
            "the stream's row leaves the batch");
        (after.DecodedRows - decoding.DecodedRows).Should().BeLessThan(LongReply, "the reply was stopped, not run to its end");
        (await History("streamer-1")).Should().BeEmpty();
    }

    [Fact]
    public async Task A_request_past_its_deadline_gets_504_and_frees_its_place()
    {
        var before = await Cluster.ReadLoadAsync("s1");
        using var hold = new CancellationTokenSource();
        var holders = new[] { Chat("holder-a", "hold on", hold.Token), Chat("holder-b", "hold on too", hold.Token) };
        await Cluster.WaitForLoadAsync("s1", l => l.BatchSize == MaxBatchSize, "the batch is full");

        var (status, body, retryAfter) = await ChatWithTimeout("hurried-1", "quick!", 300);
        status.Should().Be(504, body.ToString());
        body.GetProperty("title").GetString().Should().Be("Timed out");
        body.GetProperty("detail").GetString().Should().Contain("deadline");
        retryAfter.Should().BeNull();
        var after = await Cluster.WaitForLoadAsync("s1", l => l.Expired == before.Expired + 1 && l.Queued == 0, "the expired request left the queue");
        after.BatchSize.Should().Be(MaxBatchSize, "the holders go on");
        (await History("hurried-1")).Should().BeEmpty("an expired turn is not stored");

        var (badStatus, badBody, _) = await ChatWithTimeout("hurried-1", "quick!", 0);
        badStatus.Should().Be(400, badBody.ToString());
        badBody.GetProperty("detail").GetString().Should().Contain("X-Request-Timeout-Ms");

        await hold.CancelAsync();
        foreach (var h in holders) await FluentActions.Awaiting(() => h).Should().ThrowAsync<OperationCanceledException>();
        await Cluster.WaitForLoadAsync("s1", l => l is { Running: 0, BatchSize: 0, Queued: 0 }, "the silo is idle");
    }

    [Fact]
    public async Task Above_the_backlog_threshold_chat_replies_are_capped_and_say_so()
    {
        var alone = await Chat("calm-1", "hello there", CancellationToken.None);
        alone.Status.Should().Be(200, alone.Body.ToString());
        alone.Body.GetProperty("degraded").ValueKind.Should().Be(JsonValueKind.Null, "nothing waits: the reply is whole");
        alone.Body.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().BeGreaterThan(CappedTokens);

        using var hold = new CancellationTokenSource();
        var holders = new[] { Chat("busy-a", "hold on", hold.Token), Chat("busy-b", "hold on too", hold.Token) };
        await Cluster.WaitForLoadAsync("s1", l => l.BatchSize == MaxBatchSize, "the batch is full");
        var waiting = new[] { Chat("busy-c", "waiting", hold.Token), Chat("busy-d", "waiting too", hold.Token) };
        var backlog = await Cluster.WaitForLoadAsync("s1", l => l.Queued == 2, "two replies wait");
        backlog.Degraded.Should().BeTrue($"{backlog.Queued} waiting is above the threshold of {BacklogThreshold}");

        var capped = Chat("calm-1", "hello again", CancellationToken.None);
        await Cluster.WaitForLoadAsync("s1", l => l.Queued == 3, "the capped reply waits behind them");
        await hold.CancelAsync();
        foreach (var h in holders.Concat(waiting)) await FluentActions.Awaiting(() => h).Should().ThrowAsync<OperationCanceledException>();
        var (status, body) = await capped;
        status.Should().Be(200, body.ToString());
        var degraded = body.GetProperty("degraded");
        degraded.GetProperty("reason").GetString().Should().Be("backlog");
        degraded.GetProperty("max_tokens").GetInt32().Should().Be(CappedTokens);
        body.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().BeLessThanOrEqualTo(CappedTokens);

        await Cluster.WaitForLoadAsync("s1", l => l is { Running: 0, Queued: 0, Degraded: false }, "the backlog is gone");
        var calm = await Chat("calm-2", "hello there", CancellationToken.None);
        calm.Body.GetProperty("degraded").ValueKind.Should().Be(JsonValueKind.Null, "below the threshold replies are whole again");
        (await History("calm-1")).Should().HaveCount(4, "both turns of calm-1 are stored, the capped one included");
    }

    private async Task<(int Status, JsonElement Body)> Chat(string user, string content, CancellationToken cancellationToken)
    {
        using var response = await Cluster.Http.PostAsJsonAsync($"{Cluster.ApiUrl}/v1/conversations/{user}/messages", new { content }, cancellationToken);
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<(int Status, JsonElement Body, string? RetryAfter)> ChatWithTimeout(string user, string content, int timeoutMs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{Cluster.ApiUrl}/v1/conversations/{user}/messages")
        {
            Content = JsonContent.Create(new { content }),
        };
        request.Headers.Add("X-Request-Timeout-Ms", timeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await Cluster.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response.Headers.RetryAfter?.ToString());
    }

    private Task<JsonElement[]> History(string user) => Cluster.MessagesAsync(user);
}
