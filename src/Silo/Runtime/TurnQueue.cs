using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// Runs one activation's calls one at a time, strictly in arrival order (turn-based
/// concurrency). A linked list rather than a SemaphoreSlim, which does not wake its waiters in
/// FIFO order; the list also lets a call cancelled while waiting leave without running.
/// </summary>
internal sealed class TurnQueue
{
    private readonly object _gate = new();
    private readonly LinkedList<Turn> _waiting = new();
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private bool _pumping;
    private bool _running;
    private bool _closed;
    private long _lastActivity;

    public TurnQueue(int capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _time = time;
        _lastActivity = time.GetTimestamp();
    }

    public int Queued
    {
        get { lock (_gate) return _waiting.Count; }
    }

    public bool IsRunning
    {
        get { lock (_gate) return _running; }
    }

    /// <summary>
    /// Queues a call behind those already queued. Returns its task, or null when the queue is
    /// closed (its activation is being deactivated: use a fresh one).
    /// </summary>
    /// <exception cref="GrainCallException"><see cref="GrainErrorKind.Overloaded"/>: too many calls are waiting.</exception>
    public Task<T>? TryEnqueue<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        bool startPump;
        Turn<T> turn;
        lock (_gate)
        {
            if (_closed) return null;
            if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<T>(cancellationToken);
            if (_waiting.Count >= _capacity)
            {
                throw new GrainCallException(GrainErrorKind.Overloaded,
                    $"this conversation already has {_waiting.Count} calls waiting; retry when earlier ones have finished");
            }
            turn = new Turn<T>(this, work, cancellationToken);
            turn.Node = _waiting.AddLast(turn);
            // Registered under the lock so the pump never sees a turn without its registration.
            turn.Registration = cancellationToken.Register(static state => ((Turn)state!).Withdraw(), turn);
            _lastActivity = _time.GetTimestamp();
            startPump = !_pumping;
            _pumping = true;
        }
        if (startPump) _ = Task.Run(PumpAsync, CancellationToken.None);
        return turn.Task;
    }

    /// <summary>Closes the queue if no call is waiting or running and none arrived for <paramref name="minIdle"/>.</summary>
    public bool TryClose(TimeSpan minIdle)
    {
        lock (_gate)
        {
            if (_closed) return false;
            if (_pumping || _waiting.Count > 0 || _time.GetElapsedTime(_lastActivity) < minIdle) return false;
            _closed = true;
            return true;
        }
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            Turn turn;
            lock (_gate)
            {
                if (_waiting.First is not { } first)
                {
                    _pumping = false;
                    _lastActivity = _time.GetTimestamp();
                    return;
                }
                _waiting.RemoveFirst();
                turn = first.Value;
                _running = true;
            }
            await turn.RunAsync().ConfigureAwait(false);
            lock (_gate) _running = false;
        }
    }

    /// <summary>Removes a waiting turn; false when it has already started.</summary>
    private bool Remove(Turn turn)
    {
        lock (_gate)
        {
            if (turn.Node?.List is null) return false;
            _waiting.Remove(turn.Node);
            return true;
        }
    }

    private abstract class Turn(TurnQueue queue)
    {
        public LinkedListNode<Turn>? Node { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
        protected TurnQueue Queue => queue;

        /// <summary>Runs the call; its outcome goes to the caller's task, so this never throws.</summary>
        public abstract Task RunAsync();

        public abstract void Withdraw();
    }

    private sealed class Turn<T>(TurnQueue queue, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken) : Turn(queue)
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _result.Task;

        public override async Task RunAsync()
        {
            // Once running, the call itself observes its token.
            await Registration.DisposeAsync().ConfigureAwait(false);
            try
            {
                _result.TrySetResult(await work(cancellationToken).ConfigureAwait(false));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _result.TrySetCanceled(cancellationToken);
            }
            catch (Exception e)
            {
                _result.TrySetException(e);
            }
        }

        public override void Withdraw()
        {
            if (Queue.Remove(this)) _result.TrySetCanceled(cancellationToken);
        }
    }
}
