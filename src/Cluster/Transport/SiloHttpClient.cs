using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Qwen.Grains.Interfaces;

namespace Qwen.Cluster.Transport;

/// <summary>
/// Calls one silo's grain endpoints over HTTP. Failures come back as
/// <see cref="GrainCallException"/>: the silo's own error kind, or
/// <see cref="GrainErrorKind.Unavailable"/> when the silo cannot be reached.
/// </summary>
public sealed class SiloHttpClient(HttpClient http, Uri endpoint)
{
    public Uri Endpoint { get; } = endpoint;

    /// <summary>
    /// Header naming silos the caller could not reach: the receiving silo leaves them out when it
    /// decides whether it owns a user, so a dead owner's users move before it is declared dead.
    /// </summary>
    public const string UnreachableSilosHeader = "X-Qwen-Unreachable-Silos";

    /// <summary>The turn's deadline travels as <see cref="DeadlineHeader"/>, not in the body.</summary>
    public Task<ChatTurnResult> SendTurnAsync(string userId, ChatTurnRequest request, CancellationToken cancellationToken,
        IReadOnlyCollection<string>? unreachableSilos = null) =>
        CallAsync<ChatTurnResult>(HttpMethod.Post, SiloRoutes.TurnsOf(userId), request with { Deadline = null }, unreachableSilos,
            cancellationToken, request.Deadline);

    public Task<ConversationHistory> GetHistoryAsync(string userId, CancellationToken cancellationToken,
        IReadOnlyCollection<string>? unreachableSilos = null) =>
        CallAsync<ConversationHistory>(HttpMethod.Get, SiloRoutes.ConversationOf(userId), null, unreachableSilos, cancellationToken);

    public Task ResetAsync(string userId, CancellationToken cancellationToken, IReadOnlyCollection<string>? unreachableSilos = null) =>
        CallAsync<object?>(HttpMethod.Delete, SiloRoutes.ConversationOf(userId), null, unreachableSilos, cancellationToken);

    public Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken) =>
        CallAsync<SentimentResult>(HttpMethod.Post, SiloRoutes.Sentiment, request with { Deadline = null }, null, cancellationToken, request.Deadline);

    /// <summary>The silo's inference worker load snapshot.</summary>
    public Task<WorkerLoad> GetWorkerLoadAsync(CancellationToken cancellationToken) =>
        CallAsync<WorkerLoad>(HttpMethod.Get, SiloRoutes.WorkerLoad, null, null, cancellationToken);

    /// <summary>Asks a cold silo to load its model and become active (returns once it has started warming up).</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(Endpoint, SiloRoutes.Warmup));
        using var response = await SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
        await ThrowIfFailedAsync(response, cancellationToken);
    }

    /// <summary>The silo's metrics as Prometheus text; unreachable or failing silos throw <see cref="GrainCallException"/>.</summary>
    public async Task<string> GetMetricsTextAsync(CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(Endpoint, SiloRoutes.Metrics));
        using var response = await SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} answered HTTP {(int)response.StatusCode} for its metrics");
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }

    /// <summary>Streams a turn as server-sent events, each carrying one <see cref="ChatStreamEvent"/>.</summary>
    public IAsyncEnumerable<ChatStreamEvent> StreamTurnAsync(string userId, ChatTurnRequest request,
        CancellationToken cancellationToken, IReadOnlyCollection<string>? unreachableSilos = null) =>
        StreamAsync<ChatStreamEvent>(SiloRoutes.TurnStreamOf(userId), request with { Deadline = null }, request.Deadline, unreachableSilos,
            cancellationToken);

    /// <summary>A stateless chat generation on this silo's inference worker, streamed as server-sent events.</summary>
    public IAsyncEnumerable<GenerationEvent> GenerateAsync(ChatGenerationRequest request, CancellationToken cancellationToken) =>
        StreamAsync<GenerationEvent>(SiloRoutes.Generate, request with { Deadline = null }, request.Deadline, null, cancellationToken);

    /// <summary>One server-sent event of a stream: an event or, if the call failed midway, the error.</summary>
    public sealed record StreamItem<T>(T? Event, GrainErrorBody? Error) where T : class;

    /// <param name="deadline">Sent as <see cref="DeadlineHeader"/>; the body carries none.</param>
    private async IAsyncEnumerable<T> StreamAsync<T>(string path, object request, DateTimeOffset? deadline, IReadOnlyCollection<string>? unreachableSilos,
        [EnumeratorCancellation] CancellationToken cancellationToken) where T : class
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(Endpoint, path))
        {
            Content = JsonContent.Create(request, request.GetType(), options: TransportJson.Options),
        };
        AddUnreachable(message, unreachableSilos);
        AddDeadline(message, deadline);
        using var response = await SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await ThrowIfFailedAsync(response, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken);
            }
            catch (IOException e)
            {
                throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} broke off the stream: {e.Message}", e);
            }
            if (line is null) yield break;
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var item = JsonSerializer.Deserialize<StreamItem<T>>(line.AsSpan(6), TransportJson.Options)
                ?? throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} sent an empty stream event");
            if (item.Error is { } error) throw new GrainCallException(error.Kind, error.Message);
            if (item.Event is { } evt) yield return evt;
        }
    }

    private static void AddUnreachable(HttpRequestMessage message, IReadOnlyCollection<string>? unreachableSilos)
    {
        if (unreachableSilos is { Count: > 0 }) message.Headers.Add(UnreachableSilosHeader, string.Join(',', unreachableSilos));
    }

    private static void AddDeadline(HttpRequestMessage message, DateTimeOffset? deadline)
    {
        if (deadline is not { } due) return;
        // Nothing left to spend: do not make the silo queue a call that has already expired.
        if (due <= DateTimeOffset.UtcNow)
            throw new GrainCallException(GrainErrorKind.Timeout, $"the request's deadline ({due:O}) passed before it reached a silo");
        message.Headers.Add(DeadlineHeader.Name, DeadlineHeader.Format(due, DateTimeOffset.UtcNow));
    }

    private async Task<T> CallAsync<T>(HttpMethod method, string path, object? body, IReadOnlyCollection<string>? unreachableSilos,
        CancellationToken cancellationToken, DateTimeOffset? deadline = null)
    {
        using var message = new HttpRequestMessage(method, new Uri(Endpoint, path));
        if (body is not null) message.Content = JsonContent.Create(body, body.GetType(), options: TransportJson.Options);
        AddUnreachable(message, unreachableSilos);
        AddDeadline(message, deadline);
        using var response = await SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
        await ThrowIfFailedAsync(response, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NoContent) return default!;
        return await response.Content.ReadFromJsonAsync<T>(TransportJson.Options, cancellationToken)
            ?? throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} sent an empty response to {path}");
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage message, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(message, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} is unreachable: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GrainCallException(GrainErrorKind.Timeout, $"silo {Endpoint} did not answer in time", e);
        }
    }

    private async Task ThrowIfFailedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        GrainErrorBody? error = null;
        try
        {
            error = await response.Content.ReadFromJsonAsync<GrainErrorBody>(TransportJson.Options, cancellationToken);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not one of our error bodies (e.g. a proxy's page): fall through to the status code.
        }
        throw error is not null
            ? new GrainCallException(error.Kind, error.Message)
            : new GrainCallException(GrainErrorKind.Unavailable, $"silo {Endpoint} answered HTTP {(int)response.StatusCode}");
    }
}
