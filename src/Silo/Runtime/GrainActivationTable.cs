using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qwen.Grains;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// This silo's conversation activations: at most one per user id, created by the first call and
/// deactivated after the idle timeout. Every call is checked (user id, placement, admission) and
/// runs as a turn of its activation.
/// </summary>
public sealed partial class GrainActivationTable
{
    private readonly ConcurrentDictionary<string, GrainActivation> _activations = new(StringComparer.Ordinal);
    private readonly ConversationGrainActivator _activator;
    private readonly IGrainPlacement _placement;
    private readonly CallAdmission _admission;
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxQueuedTurns;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public GrainActivationTable(ConversationGrainActivator activator, IGrainPlacement placement, CallAdmission admission,
        IOptions<ConversationOptions> conversations, IOptions<GrainRuntimeOptions> runtime, TimeProvider time, ILogger<GrainActivationTable> logger)
    {
        _activator = activator;
        _placement = placement;
        _admission = admission;
        _idleTimeout = conversations.Value.Validate().IdleTimeout;
        _maxQueuedTurns = runtime.Value.Validate().MaxQueuedTurnsPerConversation;
        _time = time;
        _logger = logger;
    }

    public int ActiveConversations => _activations.Count;

    /// <summary>Calls waiting behind a running turn, over all conversations.</summary>
    public int QueuedTurns => _activations.Values.Sum(a => a.Turns.Queued);

    public int RunningTurns => _activations.Values.Count(a => a.Turns.IsRunning);

    public bool IsAccepting => _admission.IsAccepting;

    /// <summary>
    /// Runs a call on the user's activation after the calls already queued for it. The checks and
    /// the queueing happen before this returns, so calls made one after another keep their order.
    /// </summary>
    /// <exception cref="GrainCallException">Bad user id, user owned elsewhere, silo shutting down, or conversation queue full.</exception>
    internal Task<T> Invoke<T>(string userId, Func<ConversationGrain, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (UserIdFormat.Problem(userId) is { } problem) throw new GrainCallException(GrainErrorKind.InvalidRequest, problem);
        if (!_placement.IsLocalOwner(userId))
            throw new GrainCallException(GrainErrorKind.NotOwner, $"this silo does not own the conversation of user '{userId}'; call its owner");
        _admission.Enter();
        Task<T> turn;
        try
        {
            turn = Enqueue(userId, call, cancellationToken);
        }
        catch
        {
            _admission.Exit();
            throw;
        }
        _ = turn.ContinueWith(static (_, admission) => ((CallAdmission)admission!).Exit(), _admission,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return turn;
    }

    /// <summary>Deactivates the activations idle for the idle timeout, and idle ones this silo no longer owns.</summary>
    /// <returns>How many were deactivated.</returns>
    public async Task<int> DeactivateIdleAsync(CancellationToken cancellationToken)
    {
        int count = 0;
        foreach (var (userId, activation) in _activations)
        {
            // A user now placed on another silo leaves as soon as it is idle, so its two activations do not linger side by side.
            var minIdle = _placement.IsLocalOwner(userId) ? _idleTimeout : TimeSpan.Zero;
            if (!activation.Turns.TryClose(minIdle)) continue;
            await DeactivateAsync(activation, cancellationToken).ConfigureAwait(false);
            count++;
        }
        return count;
    }

    /// <summary>
    /// Graceful drain: new calls are refused as <see cref="GrainErrorKind.Unavailable"/> from now on,
    /// queued and running turns finish; then every activation is deactivated.
    /// </summary>
    public async Task StopAcceptingAsync(CancellationToken cancellationToken)
    {
        LogDraining(_logger, _admission.InFlight, ActiveConversations);
        await _admission.StopAcceptingAsync(cancellationToken).ConfigureAwait(false);
        foreach (var activation in _activations.Values)
        {
            if (activation.Turns.TryClose(TimeSpan.Zero)) await DeactivateAsync(activation, cancellationToken).ConfigureAwait(false);
        }
        LogDrained(_logger);
    }

    private Task<T> Enqueue<T>(string userId, Func<ConversationGrain, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        while (true)
        {
            var activation = _activations.GetOrAdd(userId, static (id, table) => table.Create(id), this);
            if (activation.TryEnqueue(call, cancellationToken) is { } turn) return turn;
            // Closed by the idle sweep between lookup and enqueue: this call gets a fresh activation.
            _activations.TryRemove(KeyValuePair.Create(userId, activation));
        }
    }

    private GrainActivation Create(string userId) => new(_activator.Create(userId), _maxQueuedTurns, _time);

    private async Task DeactivateAsync(GrainActivation activation, CancellationToken cancellationToken)
    {
        _activations.TryRemove(KeyValuePair.Create(activation.UserId, activation));
        try
        {
            await activation.DeactivateAsync(cancellationToken).ConfigureAwait(false);
            LogDeactivated(_logger, activation.UserId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Every turn is already stored; a failed deactivation loses nothing.
            LogDeactivationFailed(_logger, e, activation.UserId);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Deactivated the conversation of {UserId}")]
    private static partial void LogDeactivated(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deactivating the conversation of {UserId} failed")]
    private static partial void LogDeactivationFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: {InFlight} calls in flight over {ActiveConversations} conversations; new calls are refused")]
    private static partial void LogDraining(ILogger logger, int inFlight, int activeConversations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained: every accepted call has finished")]
    private static partial void LogDrained(ILogger logger);
}
