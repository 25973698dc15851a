using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Qwen.Grains.Interfaces;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// Passes every call to the real worker, recording the generation requests and how many ran at
/// once; <see cref="Hold"/> makes generations wait at the door until released, so a test can
/// keep a turn running while it queues, cancels or drains others.
/// </summary>
internal sealed class ObservedInferenceWorker(IInferenceWorker inner) : IInferenceWorker
{
    private readonly ConcurrentQueue<ChatGenerationRequest> _requests = new();
    private readonly SemaphoreSlim _started = new(0);
    private TaskCompletionSource _gate = Open();
    private int _running;
    private int _maxRunning;

    /// <summary>Generation requests in the order they reached the worker.</summary>
    public IReadOnlyList<ChatGenerationRequest> Requests => _requests.ToArray();

    public int Generations => _requests.Count;

    public int MaxConcurrentGenerations => Volatile.Read(ref _maxRunning);

    /// <summary>Generations wait from now until <see cref="Release"/>.</summary>
    public void Hold() => Interlocked.Exchange(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Release() => _gate.TrySetResult();

    /// <summary>Waits until a generation has reached the worker (each call consumes one arrival).</summary>
    public async Task WaitForGenerationAsync(CancellationToken cancellationToken)
    {
        if (!await _started.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken)) throw new TimeoutException("no generation started");
    }

    public Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken) =>
        inner.AnalyzeSentimentAsync(request, cancellationToken);

    public Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken) => inner.GetLoadAsync(cancellationToken);

    public async IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _requests.Enqueue(request);
        int running = Interlocked.Increment(ref _running);
        try
        {
            int max;
            while (running > (max = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, running, max) != max) { }
            _started.Release();
            await _gate.Task.WaitAsync(cancellationToken);
            await foreach (var e in inner.GenerateReplyAsync(request, cancellationToken)) yield return e;
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
