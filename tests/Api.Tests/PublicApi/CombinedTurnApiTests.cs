using System.Text;
using System.Text.Json;
using FluentAssertions;
using Xunit;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// <c>"sentiment": true</c> on a conversation turn, over HTTP: beside the reply in JSON, as the first
/// server-sent event when streamed, with the message in the history; and the same as an extension
/// of the OpenAI-compatible route when a user is given.
/// </summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class CombinedTurnApiTests(EmbeddedApiCollection.Fixture fixture)
{
    private readonly EmbeddedApi _api = fixture.Api;

    [Fact]
    public async Task A_turn_with_sentiment_answers_it_beside_the_reply_streams_it_first_and_keeps_it_in_the_history()
    {
        string user = $"combined-{Guid.NewGuid():N}";
        var (status, body) = await _api.PostJsonAsync($"/v1/conversations/{user}/messages", new { content = "今天真开心", sentiment = true });
        status.Should().Be(200, body.ToString());
        var sentiment = body.GetProperty("sentiment");
        sentiment.GetProperty("label").GetString().Should().BeOneOf("positive", "negative");
        sentiment.GetProperty("score").GetDouble().Should().BeInRange(0.5, 1);
        body.GetProperty("reply").GetString().Should().NotBeNull();

        var events = await StreamAsync($"/v1/conversations/{user}/messages",
            new { content = "会议推迟了，真扫兴", sentiment = true, stream = true });
        events[0].GetProperty("type").GetString().Should().Be("sentiment", "the sentiment is the first event");
        var streamed = events[0].GetProperty("sentiment");
        events.Skip(1).Select(e => e.GetProperty("type").GetString()).Should().OnlyContain(t => t == "delta" || t == "done");
        events[^1].GetProperty("type").GetString().Should().Be("done");
        events[^1].GetProperty("reply").GetProperty("sentiment").GetRawText().Should().Be(streamed.GetRawText());

        // A plain turn carries none.
        var (_, plain) = await _api.PostJsonAsync($"/v1/conversations/{user}/messages", new { content = "再见" });
        plain.TryGetProperty("sentiment", out _).Should().BeFalse();

        var (_, history) = await _api.GetJsonAsync($"/v1/conversations/{user}");
        var messages = history.GetProperty("messages").EnumerateArray().ToArray();
        messages.Should().HaveCount(6);
        messages[0].GetProperty("sentiment").GetRawText().Should().Be(sentiment.GetRawText());
        messages[2].GetProperty("sentiment").GetRawText().Should().Be(streamed.GetRawText());
        messages[1].TryGetProperty("sentiment", out _).Should().BeFalse("replies have no sentiment");
        messages[4].TryGetProperty("sentiment", out _).Should().BeFalse("the plain turn did not ask");
    }

    [Fact]
    public async Task The_OpenAI_route_takes_sentiment_as_an_extension_for_a_users_turn_and_refuses_it_without_a_user()
    {
        string user = $"openai-combined-{Guid.NewGuid():N}";
        var request = new { model = "qwen-aio", messages = new[] { new { role = "user", content = "今天真开心" } }, user, sentiment = true };
        var (status, body) = await _api.PostJsonAsync("/v1/chat/completions", request);
        status.Should().Be(200, body.ToString());
        body.GetProperty("sentiment").GetProperty("label").GetString().Should().BeOneOf("positive", "negative");
        body.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString().Should().Be("assistant");

        var chunks = await StreamAsync("/v1/chat/completions",
            new { model = "qwen-aio", messages = new[] { new { role = "user", content = "还有呢？" } }, user, sentiment = true, stream = true });
        chunks[0].GetProperty("sentiment").GetProperty("label").GetString().Should().BeOneOf("positive", "negative");
        chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString().Should().Be("assistant");
        chunks.Skip(1).Where(c => c.TryGetProperty("sentiment", out _)).Should().BeEmpty("only the first chunk carries it");

        var (refused, error) = await _api.PostJsonAsync("/v1/chat/completions",
            new { model = "qwen-aio", messages = new[] { new { role = "user", content = "hi" } }, sentiment = true });
        refused.Should().Be(400);
        error.GetProperty("error").GetProperty("param").GetString().Should().Be("sentiment");

        var (wrongType, problem) = await _api.PostJsonAsync($"/v1/conversations/{user}/messages", new { content = "hi", sentiment = "yes" });
        wrongType.Should().Be(400);
        problem.GetRawText().Should().Contain("sentiment");
    }

    /// <summary>The JSON of every <c>data:</c> event of a streamed answer (OpenAI's closing [DONE] left out).</summary>
    private async Task<List<JsonElement>> StreamAsync(string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _api.Url + path)
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        using var response = await _api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        ((int)response.StatusCode).Should().Be(200);
        string text = await response.Content.ReadAsStringAsync();
        return text.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal) && l != "data: [DONE]")
            .Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement.Clone()).ToList();
    }
}
