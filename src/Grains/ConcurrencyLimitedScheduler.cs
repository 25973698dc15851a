using Qwen.Grains.Interfaces;

namespace Qwen.Grains;

/// <summary>
/// Decides when the worker's model requests run: at most a fixed number at once, a bounded
/// number waiting, each on a thread-pool thread so callers' threads never block on the model.
/// Kept apart from the worker so a batching scheduler can replace it.
/// </summary>
internal sealed class ConcurrencyLimitedScheduler
{
    private readonly SemaphoreSlim _slots;
    private readonly int _maxConcurrent;
    private readonly int _maxQueued;
    private int _admitted;
    private int _running;

    public ConcurrencyLimitedScheduler(int maxConcurrent, int maxQueued)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrent, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueued);
        _maxConcurrent = maxConcurrent;
        _maxQueued = maxQueued;
        _slots = new SemaphoreSlim(maxConcurrent, maxConcurrent);
    }

    public int Running => Volatile.Read(ref _running);

    public int Queued => Math.Max(0, Volatile.Read(ref _admitted) - Running);

    /// <summary>Runs <paramref name="work"/> when a slot is free.</summary>
    /// <exception cref="GrainCallException"><see cref="GrainErrorKind.Overloaded"/>: the queue is full.</exception>
    public async Task<T> RunAsync<T>(Func<CancellationToken, T> work, CancellationToken cancellationToken)
    {
        // Admission is decided before the first await, so a burst is counted in call order.
        if (Interlocked.Increment(ref _admitted) > _maxConcurrent + _maxQueued)
        {
            Interlocked.Decrement(ref _admitted);
            throw new GrainCallException(GrainErrorKind.Overloaded,
                $"the inference queue is full ({_maxQueued} waiting, {_maxConcurrent} running); retry later or on another silo");
        }
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _running);
            try
            {
                // A model call blocks its thread for seconds: on a thread of its own, not one of the
                // pool's few (on 2 cores, a blocked pool thread delays every timer and continuation,
                // deadlines included).
                return await Task.Factory.StartNew(() => work(cancellationToken), cancellationToken,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
                _slots.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
        }
    }
}
