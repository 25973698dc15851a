using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;

namespace Qwen.Grains;

/// <summary>
/// One user's conversation: its history is loaded on activation; each turn sends the history and
/// the new message to the silo's inference worker and stores the completed turn with the version
/// it read. The runtime runs its calls one at a time, so the grain needs no locking.
/// </summary>
public sealed partial class ConversationGrain : IConversationGrain, IGrainBase
{
    /// <summary>The finish reason of a retried turn answered from storage (its token counts are not kept).</summary>
    public const string StoredFinishReason = "stored";

    /// <summary>Longest turn id accepted.</summary>
    public const int MaxTurnIdLength = 128;

    private readonly string _userId;
    private readonly IConversationStore _store;
    private readonly IInferenceWorker _worker;
    private readonly ConversationOptions _options;
    private readonly string _siloId;
    private readonly ILogger _logger;

    // Null until loaded, and again whenever storage may hold more than this copy.
    private ConversationState? _state;

    public ConversationGrain(string userId, IConversationStore store, IInferenceWorker worker, IOptions<ConversationOptions> options,
        SiloIdentity silo, ILogger<ConversationGrain> logger)
    {
        _userId = userId;
        _store = store;
        _worker = worker;
        _options = options.Value.Validate();
        _siloId = silo.Id;
        _logger = logger;
    }

    public string UserId => _userId;

    public async Task OnActivateAsync(CancellationToken cancellationToken) => _state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);

    // Every turn is stored before it is acknowledged: nothing to write back.
    public Task OnDeactivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken)
    {
        await foreach (var e in StreamMessageAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (e.Completed is { } turn) return turn;
        }
        throw new InvalidOperationException("the turn ended without a completed result");
    }

    public async IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ValidateTurn(request);
        var state = _state ??= await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        if (StoredTurnNumber(state, request) is int storedNumber)
        {
            // A retry of a turn already stored: answer it again, never run or write it twice.
            var stored = state.Turns[storedNumber - 1];
            yield return new ChatStreamEvent(stored.AssistantReply, null);
            yield return new ChatStreamEvent(null, Replayed(stored, storedNumber));
            yield break;
        }

        var generation = new ChatGenerationRequest([.. Messages(state), new(ConversationMessage.User, request.Content)],
            request.MaxNewTokens ?? _options.MaxNewTokens, request.Temperature) { Sampling = request.Sampling, Deadline = request.Deadline };
        GenerationSummary? reply = null;
        await foreach (var e in _worker.GenerateReplyAsync(generation, cancellationToken).ConfigureAwait(false))
        {
            if (e.TextDelta is { Length: > 0 } delta) yield return new ChatStreamEvent(delta, null);
            reply = e.Summary ?? reply;
        }
        if (reply is null) throw new InvalidOperationException("the inference worker ended without a summary");

        var (turn, turnNumber) = await SaveTurnAsync(state, new StoredTurn(request.TurnId, request.Content, reply.Text, DateTimeOffset.UtcNow),
            cancellationToken).ConfigureAwait(false);
        LogTurn(_logger, _userId, request.TurnId, turnNumber, reply.PromptTokens, reply.CompletionTokens);
        yield return new ChatStreamEvent(null, new ChatTurnResult(_userId, turn.TurnId, turn.AssistantReply, turnNumber,
            reply.PromptTokens, reply.CompletionTokens, reply.FinishReason, reply.Truncation, reply.SiloId, reply.Degraded));
    }

    public async Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken)
    {
        var state = _state ??= await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        return new ConversationHistory(_userId, Messages(state), state.Version);
    }

    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        _state = null;
        long version = await Storage(() => _store.ResetAsync(_userId, cancellationToken)).ConfigureAwait(false);
        _state = new ConversationState(_userId, [], version);
    }

    private void ValidateTurn(ChatTurnRequest? request)
    {
        if (request is null) throw Invalid("the turn request is missing");
        if (string.IsNullOrWhiteSpace(request.TurnId)) throw Invalid("the turn id is empty");
        if (request.TurnId.Length > MaxTurnIdLength)
            throw Invalid($"the turn id has {request.TurnId.Length} characters; at most {MaxTurnIdLength} are allowed");
        if (string.IsNullOrWhiteSpace(request.Content)) throw Invalid("the message is empty");
        if (request.Content.Length > _options.MaxMessageChars)
            throw Invalid($"the message has {request.Content.Length} characters; at most {_options.MaxMessageChars} are allowed");
    }

    /// <summary>The 1-based number of the stored turn with the request's id, or null when it is new.</summary>
    private static int? StoredTurnNumber(ConversationState state, ChatTurnRequest request)
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

    /// <summary>Appends the turn if storage still holds the version this turn was built on.</summary>
    private async Task<(StoredTurn Turn, int Number)> SaveTurnAsync(ConversationState state, StoredTurn turn, CancellationToken cancellationToken)
    {
        // Until the write is known to have landed or failed, this copy may be stale.
        _state = null;
        AppendResult saved;
        try
        {
            saved = await Storage(() => _store.AppendTurnAsync(_userId, turn, state.Version, cancellationToken)).ConfigureAwait(false);
        }
        catch (ConcurrencyConflictException e)
        {
            // Another silo wrote this conversation, so it believes it owns the user: the next call reloads.
            LogConflict(_logger, _userId, turn.TurnId, state.Version);
            throw new GrainCallException(GrainErrorKind.NotOwner,
                $"conversation '{_userId}' was changed by another silo since version {state.Version}; nothing was written, retry on the owner", e);
        }
        if (!saved.AlreadyStored)
        {
            _state = state with { Turns = [.. state.Turns, saved.Turn], Version = saved.Version };
            return (saved.Turn, _state.Turns.Count);
        }
        // Another writer stored this turn id first: report its turn, from a fresh copy.
        var current = _state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
        int index = current.Turns.Select(t => t.TurnId).ToList().IndexOf(turn.TurnId);
        return (saved.Turn, index + 1);
    }

    private static GrainCallException Invalid(string message) => new(GrainErrorKind.InvalidRequest, message);

    private ChatTurnResult Replayed(StoredTurn turn, int number) => new(_userId, turn.TurnId, turn.AssistantReply, number, 0, 0,
        StoredFinishReason, PromptTruncationInfo.None, _siloId);

    private static List<ConversationMessage> Messages(ConversationState state)
    {
        var messages = new List<ConversationMessage>(2 * state.Turns.Count + 1);
        foreach (var turn in state.Turns)
        {
            messages.Add(new ConversationMessage(ConversationMessage.User, turn.UserMessage));
            messages.Add(new ConversationMessage(ConversationMessage.Assistant, turn.AssistantReply));
        }
        return messages;
    }

    private Task<ConversationState> ReadStateAsync(CancellationToken cancellationToken) =>
        Storage(() => _store.ReadAsync(_userId, cancellationToken));

    private async Task<T> Storage<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (StorageUnavailableException e)
        {
            throw new GrainCallException(GrainErrorKind.Unavailable, $"conversation storage is unavailable: {e.Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Turn {TurnNumber} ({TurnId}) of {UserId} stored: {PromptTokens} prompt and {CompletionTokens} reply tokens")]
    private static partial void LogTurn(ILogger logger, string userId, string turnId, int turnNumber, int promptTokens, int completionTokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn {TurnId} of {UserId} not stored: the conversation moved past version {Version}")]
    private static partial void LogConflict(ILogger logger, string userId, string turnId, long version);
}
