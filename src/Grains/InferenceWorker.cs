using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Inference.Batching;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;
using PromptSentiment = Qwen.Inference.Prompts.SentimentResult;
using SentimentResult = Qwen.Grains.Interfaces.SentimentResult;

namespace Qwen.Grains;

/// <summary>
/// The silo's inference worker: sentiment and chat replies on the process's one model session.
/// Requests are checked and their prompts built, then handed to the backend (continuous
/// batching by default); the model work runs off the caller's thread and stops when the caller
/// cancels. One per silo (a DI singleton); grains reach it through <see cref="InferenceWorkerGrain"/>.
/// Disposing the worker stops its backend; dispose it before the model.
/// </summary>
public sealed partial class InferenceWorker : IDisposable
{
    private const string ImEnd = "<|im_end|>";

    private readonly LoadedModel _model;
    private readonly InferenceWorkerOptions _options;
    private readonly ChatPrompt _chat;
    private readonly SentimentClassifier _sentiment;
    private readonly IInferenceBackend _backend;
    private readonly int[] _stopIds;
    private readonly string _siloId;
    private readonly ILogger _logger;
    private long _generatedTokens;
    private long _refused;
    private long _cancelled;
    private long _expired;

    public InferenceWorker(LoadedModel model, IOptions<InferenceWorkerOptions> options, IOptions<SentimentPromptOptions> sentimentOptions,
        IOptions<ChatPromptOptions> chatOptions, SiloIdentity silo, ILogger<InferenceWorker> logger)
    {
        _model = model;
        _options = options.Value.Validate();
        ContextWindow = Math.Min(_options.ContextWindow, model.Session.ContextWindow);
        if (ContextWindow <= _options.MaxNewTokensLimit)
        {
            throw new ArgumentException(
                $"{InferenceWorkerOptions.SectionName}: the model session's context window of {model.Session.ContextWindow} tokens leaves no room for a prompt with MaxNewTokensLimit {_options.MaxNewTokensLimit}");
        }
        _chat = new ChatPrompt(model.Tokenizer, model.Template, chatOptions.Value);
        _sentiment = new SentimentClassifier(model.Session, model.Tokenizer, sentimentOptions.Value);
        _backend = _options.Scheduling == InferenceScheduling.Batched
            ? new BatchedBackend(model.Session, _options.ToBatchingOptions())
            : new SequentialBackend(model.Session, _options.MaxConcurrentRequests, _options.MaxQueueLength);
        if (_backend is BatchedBackend batched)
        {
            // Every sentiment prompt and every chat prompt starts with its system message.
            batched.PinPrefix(_sentiment.Prompt.SystemPrefixIds);
            batched.PinPrefix(_chat.SystemPrefixIds);
        }
        // <|im_end|> ends a reply even when generation_config.json does not list it.
        _stopIds = [model.Tokenizer.SpecialTokenId(ImEnd)];
        _siloId = silo.Id;
        _logger = logger;
    }

    /// <summary>Prompt plus reply tokens a request may use.</summary>
    public int ContextWindow { get; }

    public int QueuedRequests => _backend.Queued;
    public int RunningRequests => _backend.Running;

    /// <summary>Sequences in the latest model step.</summary>
    public int BatchSize => _backend.BatchSize;

    /// <summary>The KV cache's use, reservation and prefix cache (all 0 without batching).</summary>
    public KvCacheFigures Kv => _backend.Kv;

    /// <summary>Raised on the engine thread after every batched model step; keep handlers quick.</summary>
    public event Action<EngineStepReport>? StepCompleted
    {
        add => _backend.StepCompleted += value;
        remove => _backend.StepCompleted -= value;
    }

    /// <summary>Reply tokens generated since start, counted as each is generated (for throughput figures).</summary>
    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);

    /// <summary>The backlog above which new chat replies are capped, and the cap (null: not capped now).</summary>
    public int? CurrentReplyCap => _options.Degradation.CapFor(_backend.Queued);

    public Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken) => Task.FromResult(Load());

    /// <summary>The load snapshot, read without waiting.</summary>
    public WorkerLoad Load() => new(
        _siloId,
        _options.Scheduling.ToString(),
        _backend.Queued,
        _backend.Running,
        _backend.BatchSize,
        _backend.MaxBatchSize,
        _backend.MaxQueueLength,
        CurrentReplyCap is not null,
        _options.Degradation.Enabled ? _options.Degradation.CappedMaxNewTokens : null,
        _backend.Steps,
        _backend.DecodedRows,
        _backend.LastStepTime.TotalMilliseconds,
        GeneratedTokens,
        Interlocked.Read(ref _refused),
        Interlocked.Read(ref _cancelled),
        Interlocked.Read(ref _expired),
        _backend.Kv.InUse,
        _backend.Kv.Reserved,
        _backend.Kv.Budget);

    public async Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken)
    {
        string text = InferenceRequestRules.SentimentText(request, _options);
        long started = Stopwatch.GetTimestamp();
        var prompt = _sentiment.Prompt.Build(text);
        using var deadline = new CallDeadline(request.Deadline, cancellationToken);
        var scores = await Counted(_backend.ScoreAsync(prompt.Ids, _sentiment.Labels, request.Deadline, deadline.Token), deadline)
            .ConfigureAwait(false);
        PromptSentiment result = SentimentClassifier.FromScores(scores, prompt.Truncation);
        LogSentiment(_logger, result.Label, result.Probability, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new SentimentResult(result.Label, result.Probability, Truncation(result.Truncation), _siloId);
    }

    public async IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var conversation = InferenceRequestRules.Conversation(request);
        var options = InferenceRequestRules.Generation(request.MaxNewTokens, request.Temperature, _options, request.Sampling) with { StopTokenIds = _stopIds };
        var stops = new StopSequenceFilter(InferenceRequestRules.StopSequences(request.Sampling?.Stop));
        // Under a backlog, a shorter reply frees its slot sooner; the summary says it was capped.
        ReplyDegradation? degraded = null;
        if (CurrentReplyCap is { } cap && cap < options.MaxNewTokens)
        {
            options = options with { MaxNewTokens = cap };
            degraded = new ReplyDegradation(ReplyDegradation.Backlog, cap);
        }
        // Stops the model when the consumer leaves before the end or the deadline passes, not only when the caller cancels.
        using var stop = new CallDeadline(request.Deadline, cancellationToken);
        var events = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var generation = GenerateAsync(conversation, request.SystemMessage, options, request.Sentiment, degraded, stops, events.Writer, stop);
        // Also when the request never started (overloaded, cancelled while waiting).
        _ = generation.ContinueWith(_ => events.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                // A caller that cancelled gets no more of the reply, even if the model already finished it.
                cancellationToken.ThrowIfCancellationRequested();
                yield return e;
            }
            var summary = await generation.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            yield return new GenerationEvent(null, summary);
        }
        finally
        {
            if (!generation.IsCompleted)
            {
                stop.Cancel();
                await ((Task)generation).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Builds the prompt, generates on the backend, streams decoded text as each token arrives;
    /// a stop sequence in the text ends the generation early. With <paramref name="sentiment"/>,
    /// the last user message's sentiment is scored from the same prompt first (<see cref="SentimentClassifier.TurnProbe"/>)
    /// and written before any text.
    /// </summary>
    private async Task<GenerationSummary> GenerateAsync(IReadOnlyList<ChatMessage> conversation, string? systemMessage,
        GenerationOptions options, bool sentiment, ReplyDegradation? degraded, StopSequenceFilter stops, ChannelWriter<GenerationEvent> events,
        CallDeadline deadline)
    {
        long started = Stopwatch.GetTimestamp();
        BuiltPrompt prompt;
        try
        {
            prompt = _chat.Build(conversation, ContextWindow, options.MaxNewTokens, systemMessage);
        }
        catch (ArgumentException e)
        {
            throw InferenceRequestRules.Invalid(e.Message, e);
        }
        // Synthetic or padded models may choose ids the tokenizer lacks; they add no text, as in Hugging Face.
        var decoder = _model.Tokenizer.CreateStreamingDecoder(skipSpecialTokens: true, skipUnknownIds: true);
        var text = new StringBuilder();
        using var stopAtSequence = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        Task stopping = Task.CompletedTask;
        int generated = 0;
        void Emit(string piece)
        {
            bool wasStopped = stops.Stopped;
            piece = stops.Push(piece);
            if (piece.Length > 0)
            {
                text.Append(piece);
                events.TryWrite(new GenerationEvent(piece, null));
            }
            // Not inline: this runs on the engine's loop, which must not run cancellation callbacks itself.
            if (stops.Stopped && !wasStopped) stopping = stopAtSequence.CancelAsync();
        }

        MessageSentiment? judged = null;
        void Judged(IReadOnlyList<LabelScore> scores)
        {
            var answer = SentimentClassifier.FromScores(scores, PromptTruncation.None);
            judged = new MessageSentiment(answer.Label, answer.Probability);
            events.TryWrite(new GenerationEvent(null, null) { Sentiment = judged });
        }

        GenerationResult? result = null;
        try
        {
            var generation = new GenerationRequest(prompt.Ids, options) { Probe = sentiment ? _sentiment.TurnProbe : null };
            result = await Counted(_backend.GenerateAsync(generation, id =>
            {
                generated++;
                // Counted as each token is made, so throughput figures move with the model, not in steps at each reply's end.
                Interlocked.Increment(ref _generatedTokens);
                Emit(decoder.Push(id));
            }, Judged, deadline.Deadline, stopAtSequence.Token), deadline, () => stops.Stopped).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stops.Stopped && !deadline.Token.IsCancellationRequested)
        {
            // Ended by a stop sequence: the reply so far is the answer.
        }
        await stopping.ConfigureAwait(false);
        if (!stops.Stopped)
        {
            Emit(decoder.Flush());
            string rest = stops.Flush();
            text.Append(rest);
            if (rest.Length > 0) events.TryWrite(new GenerationEvent(rest, null));
        }
        int completionTokens = result?.Tokens.Count ?? generated;
        string finish = stops.Stopped || result!.FinishReason == FinishReason.Stop ? "stop" : "length";
        LogReply(_logger, prompt.Ids.Length, completionTokens, finish, prompt.Truncation.DroppedTurns,
            Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new GenerationSummary(text.ToString(), prompt.Ids.Length, completionTokens, finish, Truncation(prompt.Truncation), _siloId,
            degraded) { Sentiment = judged };
    }

    /// <summary>
    /// Counts how a model call ended when it did not finish (refused, cancelled, expired) and
    /// turns a cancellation by the deadline into the contract's Timeout. A call the worker ended
    /// itself (<paramref name="endedByWorker"/>, e.g. at a stop sequence) is not counted.
    /// </summary>
    private async Task<T> Counted<T>(Task<T> call, CallDeadline deadline, Func<bool>? endedByWorker = null)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (GrainCallException e) when (e.Kind == GrainErrorKind.Overloaded)
        {
            Interlocked.Increment(ref _refused);
            LogRefused(_logger, _backend.Queued, _backend.MaxQueueLength);
            throw;
        }
        catch (GrainCallException e) when (e.Kind == GrainErrorKind.Timeout)
        {
            Interlocked.Increment(ref _expired);
            throw;
        }
        catch (OperationCanceledException) when (endedByWorker?.Invoke() == true && !deadline.Token.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException e) when (deadline.HasExpired)
        {
            Interlocked.Increment(ref _expired);
            throw deadline.Exceeded("before the model finished it", e);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancelled);
            LogCancelled(_logger, _backend.Steps, _backend.DecodedRows);
            throw;
        }
    }

    public void Dispose() => _backend.Dispose();

    private static PromptTruncationInfo Truncation(PromptTruncation truncation) =>
        truncation.IsTruncated ? new PromptTruncationInfo(truncation.DroppedTurns, truncation.DroppedTokens) : PromptTruncationInfo.None;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused a request: {Queued} of {MaxQueueLength} queue places taken")]
    private static partial void LogRefused(ILogger logger, int queued, int maxQueueLength);

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "A request was cancelled by its caller at engine step {Step} ({DecodedRows} rows decoded so far); it leaves the batch before the next step")]
    private static partial void LogCancelled(ILogger logger, long step, long decodedRows);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Sentiment {Label} ({Probability:F3}) in {ElapsedMs:F0} ms")]
    private static partial void LogSentiment(ILogger logger, string label, double probability, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Reply of {CompletionTokens} tokens to a {PromptTokens}-token prompt ({FinishReason}, {DroppedTurns} turns dropped) in {ElapsedMs:F0} ms")]
    private static partial void LogReply(ILogger logger, int promptTokens, int completionTokens, string finishReason, int droppedTurns, double elapsedMs);
}
