using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using Qwen.Cli.Workload;

namespace Qwen.Cli.Load;

/// <summary>
/// One closed-loop virtual user of the public API: sentiment requests, and chat messages in its
/// own conversation (its user id), each waited for in full before the next.
/// </summary>
internal sealed class HttpLoadClient(HttpClient http, Uri baseUrl, string userId, TimeSpan timeout)
{
    private const int MaxErrorBodyBytes = 400;

    public string UserId { get; } = userId;

    public async Task<LoadSample> RunAsync(WorkloadRequest request, CancellationToken cancellationToken)
    {
        var (path, body) = request.Task == WorkloadTask.Sentiment
            ? ("v1/sentiment", (object)new { text = request.Text })
            : ($"v1/conversations/{Uri.EscapeDataString(UserId)}/messages", new { content = request.Text });
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        long started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.PostAsJsonAsync(new Uri(baseUrl, path), body, deadline.Token).ConfigureAwait(false);
            // The whole body, so the latency is what a client waits for.
            byte[] content = await response.Content.ReadAsByteArrayAsync(deadline.Token).ConfigureAwait(false);
            double latency = Elapsed(started);
            int status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return new LoadSample(request.Task, latency, status, null, RetryAfter(response));
            // The error body says why (the API answers errors with a JSON body); kept short for the report.
            string errorBody = System.Text.Encoding.UTF8.GetString(content, 0, Math.Min(content.Length, MaxErrorBodyBytes));
            return new LoadSample(request.Task, latency, status, status.ToString(CultureInfo.InvariantCulture), RetryAfter(response), errorBody);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new LoadSample(request.Task, Elapsed(started), 0, "timeout");
        }
        catch (HttpRequestException e)
        {
            return new LoadSample(request.Task, Elapsed(started), 0, e.InnerException is SocketException s ? $"socket {s.SocketErrorCode}" : "connection");
        }
    }

    /// <summary>Deletes the conversation this user built (best effort: a load test leaves no history behind).</summary>
    public async Task ForgetAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.DeleteAsync(new Uri(baseUrl, $"v1/conversations/{Uri.EscapeDataString(UserId)}"), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            // The server may be gone; nothing to clean then.
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
