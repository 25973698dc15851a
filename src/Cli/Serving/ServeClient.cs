using Qwen.Grains;
using System.Diagnostics;
using Qwen.Cli.Workload;
using Qwen.Grains.Interfaces;

namespace Qwen.Cli.Serving;

/// <summary>
/// One closed-loop virtual user of an inference worker: sends a request, waits for the whole
/// answer, sends the next. Its chat requests continue its own conversation for a few turns
/// and then start a new one, as users of the service do.
/// </summary>
internal sealed class ServeClient(InferenceWorker worker, int maxNewTokens)
{
    /// <summary>User turns per conversation before the client starts a fresh one (keeps prompts short, like the original test).</summary>
    public const int TurnsPerConversation = 3;

    private readonly List<ConversationMessage> _history = [];

    public async Task<RequestSample> RunAsync(WorkloadRequest request, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            if (request.Task == WorkloadTask.Sentiment)
            {
                await worker.AnalyzeSentimentAsync(new SentimentRequest(request.Text), cancellationToken).ConfigureAwait(false);
                return new RequestSample(request.Task, Elapsed(started), null, 0, null);
            }
            return await ChatAsync(request.Text, started, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new RequestSample(request.Task, Elapsed(started), null, 0, ErrorKind(e));
        }
    }

    private async Task<RequestSample> ChatAsync(string text, long started, CancellationToken cancellationToken)
    {
        if (_history.Count >= TurnsPerConversation * 2) _history.Clear();
        var user = new ConversationMessage(ConversationMessage.User, text);
        var request = new ChatGenerationRequest([.. _history, user], maxNewTokens);
        double? firstToken = null;
        GenerationSummary? summary = null;
        await foreach (var e in worker.GenerateReplyAsync(request, cancellationToken).ConfigureAwait(false))
        {
            firstToken ??= Elapsed(started);
            summary = e.Summary ?? summary;
        }
        double latency = Elapsed(started);
        if (summary is null) return new RequestSample(WorkloadTask.Chat, latency, firstToken, 0, "no final summary");
        _history.Add(user);
        _history.Add(new ConversationMessage(ConversationMessage.Assistant, summary.Text));
        return new RequestSample(WorkloadTask.Chat, latency, firstToken, summary.CompletionTokens, null);
    }

    /// <summary>A short label to count errors by: the grain error kind, or the exception type.</summary>
    public static string ErrorKind(Exception e) => e is GrainCallException g ? g.Kind.ToString() : e.GetType().Name;

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
