using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// Counts the calls this silo has accepted and not finished, and stops accepting on a graceful
/// shutdown; <see cref="StopAcceptingAsync"/> completes once the last accepted call has finished.
/// Shared by the conversation grains and the inference worker as callers see them.
/// </summary>
public sealed class CallAdmission
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _accepting = true;
    private int _inFlight;

    public bool IsAccepting
    {
        get { lock (_gate) return _accepting; }
    }

    /// <summary>Accepted calls not yet finished (queued or running).</summary>
    public int InFlight
    {
        get { lock (_gate) return _inFlight; }
    }

    /// <summary>Refuses new calls from now on; completes when the accepted ones have finished.</summary>
    public Task StopAcceptingAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _accepting = false;
            if (_inFlight == 0) _drained.TrySetResult();
        }
        return _drained.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Counts a new call; every successful call must be matched by one <see cref="Exit"/>.</summary>
    /// <exception cref="GrainCallException"><see cref="GrainErrorKind.Unavailable"/> while shutting down.</exception>
    internal void Enter()
    {
        lock (_gate)
        {
            if (!_accepting)
                throw new GrainCallException(GrainErrorKind.Unavailable, "this silo is shutting down and takes no new calls; retry on another silo");
            _inFlight++;
        }
    }

    internal void Exit()
    {
        lock (_gate)
        {
            _inFlight--;
            if (!_accepting && _inFlight == 0) _drained.TrySetResult();
        }
    }
}
