using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Grains.Placement;

namespace Qwen.Grains;

/// <summary>
/// One user's conversation: its history is grain state, read through the
/// <see cref="StorageName"/> storage provider; each turn sends the history and the new message to
/// the silo's inference worker and writes the completed turn (with the ETag it read) before
/// answering. Reentrant, with a turn gate instead of Orleans' one-call-at-a-time: Orleans
/// interleaves the steps of a streamed reply with other calls anyway, and behind the gate a
/// waiting turn (whole or streamed) can leave at its deadline while history reads never wait.
/// </summary>
[WarmSiloPlacement, Reentrant]
public sealed partial class ConversationGrain : Grain, IConversationGrain
{
    /// <summary>The grain storage provider that holds conversations.</summary>
    public const string StorageName = "conversations";

    /// <summary>The finish reason of a retried turn answered from storage (its token counts are not kept).</summary>
    public const string StoredFinishReason = "stored";

    /// <summary>Longest turn id accepted.</summary>
    public const int MaxTurnIdLength = 128;

    private const string StateName = "conversation";

    private readonly IGrainStorage _storage;
    private readonly ConversationOptions _options;
    private readonly string _siloId;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _turnGate = new(1, 1);
    private readonly ConversationActivity _activity;
    private readonly ISiloModel _silo;

    // Null until read, and again whenever storage may hold more than this copy.
    private GrainState<ConversationGrainState>? _state;

    public ConversationGrain(IServiceProvider services, IOptions<ConversationOptions> options, SiloIdentity silo, ConversationActivity activity,
        ISiloModel model, ILogger<ConversationGrain> logger)
    {
        _silo = model;
        _activity = activity;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(StorageName);
        _options = options.Value.Validate();
        _siloId = silo.Id;
        _logger = logger;
    }

    /// <summary>The grain key: <c>tenant/userId</c> (see <see cref="ConversationKey"/>).</summary>
    private string Key => this.GetPrimaryKeyString();

    /// <summary>The user id within the tenant: what replies and histories name.</summary>
    private string UserId => ConversationKey.Parse(Key).UserId;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _activity.Activated();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _activity.Deactivated();
        return Task.CompletedTask;
    }

    public async Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken)
    {
        await foreach (var e in StreamMessageAsync(request, cancellationToken))
        {
            if (e.Completed is { } turn) return turn;
        }
        throw new InvalidOperationException("the turn ended without a completed result");
    }

    public async IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ValidateTurn(request);
        await EnterTurnAsync(request.Deadline, cancellationToken);
        try
        {
            if (_silo.State == SiloStatusReport.Stopping)
            {
                // This silo is leaving: let the conversation move (the next call activates it on another silo) rather than refuse it.
                this.DeactivateOnIdle();
                throw new GrainCallException(GrainErrorKind.NotOwner,
                    $"the silo holding conversation '{UserId}' is stopping; nothing was run: send the turn again to continue on another silo");
            }
            var state = _state ??= await ReadStateAsync(cancellationToken);
            if (StoredTurnNumber(Of(state), request) is int storedNumber)
            {
                // A retry of a turn already stored: answer it again, never run or write it twice.
                var stored = Of(state).Turns[storedNumber - 1];
                if (stored.Sentiment is { } storedSentiment) yield return new ChatStreamEvent(null, null) { Sentiment = storedSentiment };
                yield return new ChatStreamEvent(stored.AssistantReply, null);
                yield return new ChatStreamEvent(null, Replayed(stored, storedNumber));
                yield break;
            }

            var generation = new ChatGenerationRequest([.. Messages(Of(state)), new(ConversationMessage.User, request.Content)],
                request.MaxNewTokens ?? _options.MaxNewTokens, request.Temperature)
            {
                Sampling = request.Sampling,
                Deadline = request.Deadline,
                Sentiment = request.Sentiment,
            };
            GenerationSummary? reply = null;
            // In-process, not through the worker grain: see ISiloModel.GenerateConversationReplyAsync.
            await foreach (var e in _silo.GenerateConversationReplyAsync(Key, generation, cancellationToken))
            {
                if (e.Sentiment is { } sentiment) yield return new ChatStreamEvent(null, null) { Sentiment = sentiment };
                if (e.TextDelta is { Length: > 0 } delta) yield return new ChatStreamEvent(delta, null);
                reply = e.Summary ?? reply;
            }
            if (reply is null) throw new InvalidOperationException("the inference worker ended without a summary");

            var completed = new StoredTurn(request.TurnId, request.Content, Storable(reply.Text), DateTimeOffset.UtcNow)
            {
                Sentiment = reply.Sentiment,
            };
            var (turn, turnNumber) = await SaveTurnAsync(state, completed, cancellationToken);
            LogTurn(_logger, Key, request.TurnId, turnNumber, reply.PromptTokens, reply.CompletionTokens);
            yield return new ChatStreamEvent(null, new ChatTurnResult(UserId, turn.TurnId, turn.AssistantReply, turnNumber,
                reply.PromptTokens, reply.CompletionTokens, reply.FinishReason, reply.Truncation, reply.SiloId, reply.Degraded)
            {
                Sentiment = turn.Sentiment,
            });
        }
        finally
        {
            _activity.Finished();
            _turnGate.Release();
        }
    }

    /// <summary>
    /// Waits for the turn before this one to end (counted as waiting meanwhile), at most until the
    /// turn's deadline: a turn stuck behind a long one fails as Timeout instead of waiting on.
    /// </summary>
    private async Task EnterTurnAsync(DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        _activity.Waiting();
        bool entered;
        try
        {
            var wait = deadline is { } at ? at - DateTimeOffset.UtcNow : Timeout.InfiniteTimeSpan;
            entered = wait != Timeout.InfiniteTimeSpan && wait <= TimeSpan.Zero
                ? _turnGate.Wait(0, CancellationToken.None)
                : await _turnGate.WaitAsync(wait, cancellationToken);
        }
        catch
        {
            _activity.Abandoned();
            throw;
        }
        if (!entered)
        {
            _activity.Abandoned();
            throw new GrainCallException(GrainErrorKind.Timeout,
                $"the turn's deadline passed while an earlier turn of conversation '{UserId}' was still running; nothing was run or stored");
        }
        _activity.Started();
    }

    public async Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken)
    {
        ValidateUserId();
        var state = _state ?? await ReadStateAsync(cancellationToken);
        // Not a plain `_state ??= await ...`: this read may have started before a streamed turn's write
        // landed and returned after it; keeping it would make the next turn build on a stale copy.
        _state ??= state;
        return new ConversationHistory(UserId, [.. Messages(Of(state))], Version(state));
    }

    public async Task<bool> ResetAsync(CancellationToken cancellationToken)
    {
        ValidateUserId();
        await _turnGate.WaitAsync(cancellationToken);
        try
        {
            var state = _state ??= await ReadStateAsync(cancellationToken);
            if (Of(state).Turns.Count == 0) return false;
            _state = null;
            await Storage(() => _storage.ClearStateAsync(StateName, this.GetGrainId(), state));
            state.State = new ConversationGrainState();
            _state = state;
            return true;
        }
        finally
        {
            _turnGate.Release();
        }
    }

    /// <summary>The key (tenant and user id) also names the conversation in storage and logs: refuse what no key may be.</summary>
    private void ValidateUserId()
    {
        if (ConversationKey.Problem(Key) is { } problem) throw Invalid(problem);
    }

    private void ValidateTurn(ChatTurnRequest? request)
    {
        ValidateUserId();
        if (request is null) throw Invalid("the turn request is missing");
        if (string.IsNullOrWhiteSpace(request.TurnId)) throw Invalid("the turn id is empty");
        if (request.TurnId.Length > MaxTurnIdLength)
            throw Invalid($"the turn id has {request.TurnId.Length} characters; at most {MaxTurnIdLength} are allowed");
        if (string.IsNullOrWhiteSpace(request.Content)) throw Invalid("the message is empty");
        if (request.Content.Length > _options.MaxMessageChars)
            throw Invalid($"the message has {request.Content.Length} characters; at most {_options.MaxMessageChars} are allowed");
    }

    /// <summary>The 1-based number of the stored turn with the request's id, or null when it is new.</summary>
    private static int? StoredTurnNumber(ConversationGrainState state, ChatTurnRequest request)
    {
        for (int i = 0; i < state.Turns.Count; i++)
        {
            if (state.Turns[i].TurnId != request.TurnId) continue;
            if (state.Turns[i].UserMessage != request.Content)
                throw Invalid($"turn id '{request.TurnId}' was already used for a different message");
            return i + 1;
        }
        return null;
    }

    /// <summary>Appends the turn and writes the state if storage still holds the version this turn was built on.</summary>
    private async Task<(StoredTurn Turn, int Number)> SaveTurnAsync(GrainState<ConversationGrainState> state, StoredTurn turn,
        CancellationToken cancellationToken)
    {
        // Until the write is known to have landed or failed, this copy may be stale.
        _state = null;
        string? readVersion = state.ETag;
        Of(state).Turns.Add(turn);
        try
        {
            await Storage(() => _storage.WriteStateAsync(StateName, this.GetGrainId(), state));
        }
        catch (InconsistentStateException e)
        {
            // Another writer changed the conversation (a second activation during a membership change,
            // or the same turn retried there): look at what is stored now.
            var current = _state = await ReadStateAsync(cancellationToken);
            int index = Of(current).Turns.FindIndex(t => t.TurnId == turn.TurnId);
            if (index >= 0) return (Of(current).Turns[index], index + 1);
            LogConflict(_logger, Key, turn.TurnId, readVersion);
            throw new GrainCallException(GrainErrorKind.NotOwner,
                $"conversation '{UserId}' was changed by another writer since version {readVersion ?? "0"}; nothing was written, retry", e);
        }
        _state = state;
        return (turn, Of(state).Turns.Count);
    }

    /// <summary>
    /// The reply as a store can hold it: a model may emit NUL or half a surrogate pair, which PostgreSQL refuses (the turn
    /// failed as a 500); each becomes U+FFFD.
    /// </summary>
    private static string Storable(string text)
    {
        var builder = new System.Text.StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes()) builder.Append(rune.Value == 0 ? System.Text.Rune.ReplacementChar : rune);
        return builder.ToString();
    }

    private static GrainCallException Invalid(string message) => new(GrainErrorKind.InvalidRequest, message);

    private ChatTurnResult Replayed(StoredTurn turn, int number) => new(UserId, turn.TurnId, turn.AssistantReply, number, 0, 0,
        StoredFinishReason, PromptTruncationInfo.None, _siloId) { Sentiment = turn.Sentiment };

    private static ConversationGrainState Of(GrainState<ConversationGrainState> state) => state.State ??= new ConversationGrainState();

    private static long Version(GrainState<ConversationGrainState> state) =>
        long.TryParse(state.ETag, out long version) ? version : Of(state).Turns.Count;

    private static List<ConversationMessage> Messages(ConversationGrainState state)
    {
        var messages = new List<ConversationMessage>(2 * state.Turns.Count + 1);
        foreach (var turn in state.Turns)
        {
            messages.Add(new ConversationMessage(ConversationMessage.User, turn.UserMessage) { Sentiment = turn.Sentiment });
            messages.Add(new ConversationMessage(ConversationMessage.Assistant, turn.AssistantReply));
        }
        return messages;
    }

    private async Task<GrainState<ConversationGrainState>> ReadStateAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var state = new GrainState<ConversationGrainState>(new ConversationGrainState());
        await Storage(() => _storage.ReadStateAsync(StateName, this.GetGrainId(), state));
        return state;
    }

    /// <summary>A store that cannot be reached fails the call as Unavailable, naming the storage; other errors pass unchanged.</summary>
    private static async Task Storage(Func<Task> operation)
    {
        try
        {
            await operation();
        }
        catch (StorageUnavailableException e)
        {
            // Without the inner exception: its type has no Orleans codec, so the call failed with CodecNotFoundException (a 500).
            throw new GrainCallException(GrainErrorKind.Unavailable, $"conversation storage is unavailable: {e.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Turn {TurnNumber} ({TurnId}) of {UserId} stored: {PromptTokens} prompt and {CompletionTokens} reply tokens")]
    private static partial void LogTurn(ILogger logger, string userId, string turnId, int turnNumber, int promptTokens, int completionTokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn {TurnId} of {UserId} not stored: the conversation moved past version {Version}")]
    private static partial void LogConflict(ILogger logger, string userId, string turnId, string? version);
}
