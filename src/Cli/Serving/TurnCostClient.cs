using System.Diagnostics;
using Qwen.Grains;
using Qwen.Grains.Interfaces;

namespace Qwen.Cli.Serving;

/// <summary>
/// One closed-loop user of <c>bench-serve --turn-cost</c>: each message of its conversation is sent as one of the
/// <see cref="TurnKinds"/> (a plain chat turn, a combined turn, or a chat turn plus a separate sentiment request sent
/// at the same time), and the client waits for all of its answers before the next message.
/// </summary>
internal sealed class TurnCostClient(InferenceWorker worker, int maxNewTokens, string kind)
{
    private readonly List<ConversationMessage> _history = [];

    public async Task<TurnSample> RunAsync(string text, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            if (_history.Count >= ServeClient.TurnsPerConversation * 2) _history.Clear();
            var user = new ConversationMessage(ConversationMessage.User, text);
            var request = new ChatGenerationRequest([.. _history, user], maxNewTokens) { Sentiment = kind == TurnKinds.Combined };
            double? sentimentMs = null;
            Task separate = Task.CompletedTask;
            if (kind == TurnKinds.Separate)
            {
                separate = worker.AnalyzeSentimentAsync(new SentimentRequest(text), cancellationToken)
                    .ContinueWith(t => { t.GetAwaiter().GetResult(); sentimentMs = Elapsed(started); }, cancellationToken,
                        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            double? firstToken = null;
            GenerationSummary? summary = null;
            await foreach (var e in worker.GenerateReplyAsync(request, cancellationToken).ConfigureAwait(false))
            {
                if (e.Sentiment is not null) sentimentMs ??= Elapsed(started);
                if (e.TextDelta is not null) firstToken ??= Elapsed(started);
                summary = e.Summary ?? summary;
            }
            await separate.ConfigureAwait(false);
            if (summary is null) return new TurnSample(Elapsed(started), sentimentMs, firstToken, 0, "no final summary");
            if (kind == TurnKinds.Combined && summary.Sentiment is null) return new TurnSample(Elapsed(started), null, firstToken, 0, "no sentiment");
            _history.Add(user);
            _history.Add(new ConversationMessage(ConversationMessage.Assistant, summary.Text));
            return new TurnSample(Elapsed(started), sentimentMs, firstToken, summary.CompletionTokens, null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new TurnSample(Elapsed(started), null, null, 0, ServeClient.ErrorKind(e));
        }
    }

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}

/// <summary>The three ways to get a message's sentiment and its reply that <c>bench-serve --turn-cost</c> compares.</summary>
internal static class TurnKinds
{
    /// <summary>A chat turn alone: the baseline (no sentiment).</summary>
    public const string Plain = "plain";

    /// <summary>One chat turn with <c>sentiment: true</c>: the label scored from the reply's own prompt KV.</summary>
    public const string Combined = "combined";

    /// <summary>A chat turn and a /v1/sentiment request for the same message, sent together: two prompts, two prefills.</summary>
    public const string Separate = "separate";

    public static IReadOnlyList<string> All { get; } = [Plain, Combined, Separate];
}

/// <summary>One turn as its client saw it; <paramref name="SentimentMs"/> is when the sentiment arrived (null for plain turns).</summary>
internal sealed record TurnSample(double LatencyMs, double? SentimentMs, double? FirstTokenMs, int GeneratedTokens, string? Error)
{
    public bool Succeeded => Error is null;
}
