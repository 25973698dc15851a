using System.Net.Http.Json;
using System.Text.Json;
using FluentAssertions;
using Qwen.Api.Tests.Cluster;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// The OpenAI-compatible surface against a real cluster (one silo process, PostgreSQL): the
/// official Node SDK gets well-formed results streaming and not, stateless and per user; greedy
/// replies are the same stateless and as a conversation's first turn; stop sequences cut replies.
/// </summary>
public sealed class OpenAiCompatibilityTests(OpenAiCompatibilityTests.OneSiloCluster fixture, ITestOutputHelper output)
    : IClassFixture<OpenAiCompatibilityTests.OneSiloCluster>
{
    private readonly TestCluster _cluster = fixture.Cluster;

    public sealed class OneSiloCluster : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(silos: 1);

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    [Fact]
    public async Task The_official_OpenAI_Node_SDK_gets_well_formed_completions()
    {
        string sdk = await OpenAiSdk.EnsureInstalledAsync(CancellationToken.None);
        string script = Path.Combine(AppContext.BaseDirectory, "PublicApi", "openai-client.cjs");
        var (exit, stdout, stderr) = await CommandLine.RunAsync("node", [script],
            new Dictionary<string, string> { ["OPENAI_SDK_DIR"] = sdk, ["QWEN_API_URL"] = _cluster.ApiUrl }, TimeSpan.FromMinutes(3));
        output.WriteLine(stdout);
        exit.Should().Be(0, stderr);
        var result = JsonDocument.Parse(stdout).RootElement;

        result.GetProperty("models").EnumerateArray().Select(m => m.GetString()).Should().Equal("qwen-aio");

        var plain = result.GetProperty("plain");
        AssertCompletion(plain, maxTokens: 8);
        string plainText = plain.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var chunks = result.GetProperty("chunks").EnumerateArray().ToArray();
        chunks.Should().HaveCountGreaterThan(2);
        chunks.Should().OnlyContain(c => c.GetProperty("object").GetString() == "chat.completion.chunk");
        chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Should().ContainSingle().Which.Should().StartWith("chatcmpl-");
        chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString().Should().Be("assistant");
        chunks.Count(c => c.GetProperty("choices").GetArrayLength() == 1 && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String)
            .Should().Be(1, "exactly one chunk carries the finish reason");
        var usageChunk = chunks[^1];
        usageChunk.GetProperty("choices").GetArrayLength().Should().Be(0);
        usageChunk.GetProperty("usage").GetRawText().Should().Be(plain.GetProperty("usage").GetRawText(), "the same greedy request costs the same tokens");
        string streamed = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() == 1)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var content) ? content.GetString() : ""));
        streamed.Should().Be(plainText, "greedy decoding streams exactly the text it returns whole");

        var user1 = result.GetProperty("user1");
        AssertCompletion(user1, maxTokens: 6);
        string firstReply = user1.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        string secondReply = string.Concat(result.GetProperty("user2Chunks").EnumerateArray()
            .Where(c => c.GetProperty("choices").GetArrayLength() == 1)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var content) ? content.GetString() : ""));
        var (status, history) = await _cluster.GetAsync("/v1/conversations/sdk-user");
        status.Should().Be(200);
        history.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString()))
            .Should().Equal(("user", "第一句"), ("assistant", firstReply), ("user", "第二句"), ("assistant", secondReply));

        var seeded = result.GetProperty("seeded");
        AssertCompletion(seeded[0], maxTokens: 8);
        seeded[1].GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()
            .Should().Be(seeded[0].GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), "the same seed samples the same tokens");

        var error = result.GetProperty("error");
        error.GetProperty("status").GetInt32().Should().Be(404);
        error.GetProperty("code").GetString().Should().Be("model_not_found");
        error.GetProperty("param").GetString().Should().Be("model");
        var rangeError = result.GetProperty("rangeError");
        rangeError.GetProperty("status").GetInt32().Should().Be(400);
        rangeError.GetProperty("type").GetString().Should().Be("invalid_request_error");
        rangeError.GetProperty("param").GetString().Should().Be("temperature");
    }

    private static void AssertCompletion(JsonElement completion, int maxTokens)
    {
        completion.GetProperty("id").GetString().Should().StartWith("chatcmpl-");
        completion.GetProperty("object").GetString().Should().Be("chat.completion");
        completion.GetProperty("created").GetInt64().Should().BeGreaterThan(1_700_000_000);
        completion.GetProperty("model").GetString().Should().Be("qwen-aio");
        var choice = completion.GetProperty("choices").EnumerateArray().Should().ContainSingle().Subject;
        choice.GetProperty("index").GetInt32().Should().Be(0);
        choice.GetProperty("message").GetProperty("role").GetString().Should().Be("assistant");
        choice.GetProperty("message").GetProperty("content").ValueKind.Should().Be(JsonValueKind.String);
        choice.GetProperty("finish_reason").GetString().Should().BeOneOf("stop", "length");
        var usage = completion.GetProperty("usage");
        int prompt = usage.GetProperty("prompt_tokens").GetInt32(), reply = usage.GetProperty("completion_tokens").GetInt32();
        prompt.Should().BePositive();
        reply.Should().BeInRange(1, maxTokens);
        usage.GetProperty("total_tokens").GetInt32().Should().Be(prompt + reply);
    }

    [Fact]
    public async Task A_greedy_request_gives_the_same_tokens_stateless_and_as_a_conversations_first_turn()
    {
        const string prompt = "Tell me about the weather in 北京.";
        var (status, completion) = await _cluster.PostAsync("/v1/chat/completions",
            new { model = "qwen-aio", messages = new[] { new { role = "user", content = prompt } }, max_tokens = 12 });
        status.Should().Be(200, completion.ToString());
        var (turnStatus, turn) = await _cluster.PostAsync("/v1/conversations/determinism-user/messages", new { content = prompt, max_tokens = 12 });
        turnStatus.Should().Be(200, turn.ToString());

        turn.GetProperty("reply").GetString().Should().Be(completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        turn.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        turn.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        turn.GetProperty("finish_reason").GetString().Should().Be(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_reply_before_it_whole_and_streamed()
    {
        var request = new { model = "qwen-aio", messages = new[] { new { role = "user", content = "写一首关于春天的诗" } }, max_tokens = 16 };
        var (_, full) = await _cluster.PostAsync("/v1/chat/completions", request);
        string text = full.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        text.Length.Should().BeGreaterThan(6, "the tiny model writes some text to cut");
        string stop = text.Substring(text.Length / 2, 2);
        string expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];

        var (status, cut) = await _cluster.PostAsync("/v1/chat/completions",
            new { request.model, request.messages, request.max_tokens, stop = new[] { stop, "never-seen-stop" } });
        status.Should().Be(200, cut.ToString());
        cut.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString().Should().Be(expected);
        cut.GetProperty("choices")[0].GetProperty("finish_reason").GetString().Should().Be("stop");
        cut.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().BeLessThan(16);

        using var streamed = new HttpRequestMessage(HttpMethod.Post, _cluster.ApiUrl + "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { request.model, request.messages, request.max_tokens, stop, stream = true }),
        };
        using var response = await _cluster.Http.SendAsync(streamed, HttpCompletionOption.ResponseHeadersRead);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        string[] events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        events[^1].Should().Be("data: [DONE]");
        string joined = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() == 1).Select(c => c[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var content) ? content.GetString() : ""));
        joined.Should().Be(expected, "no part of the stop sequence is streamed");
    }

    [Fact]
    public async Task A_streamed_conversation_turn_sends_deltas_then_the_whole_reply()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _cluster.ApiUrl + "/v1/conversations/stream-user/messages")
        {
            Content = JsonContent.Create(new { content = "你好", stream = true, max_tokens = 8 }),
        };
        request.Headers.Add("X-Request-Id", "stream-req-1");
        using var response = await _cluster.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.Headers.GetValues("X-Request-Id").Should().Equal("stream-req-1");
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToArray();
        events[..^1].Should().OnlyContain(e => e.GetProperty("type").GetString() == "delta");
        var done = events[^1];
        done.GetProperty("type").GetString().Should().Be("done");
        var reply = done.GetProperty("reply");
        reply.GetProperty("reply").GetString().Should().Be(string.Concat(events[..^1].Select(e => e.GetProperty("text").GetString())));
        reply.GetProperty("request_id").GetString().Should().Be("stream-req-1");
        reply.GetProperty("turn").GetInt32().Should().Be(1);
        var (_, history) = await _cluster.GetAsync("/v1/conversations/stream-user");
        history.GetProperty("messages")[1].GetProperty("content").GetString().Should().Be(reply.GetProperty("reply").GetString());
    }
}
