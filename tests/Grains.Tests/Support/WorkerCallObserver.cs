using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Orleans.Serialization.Invocation;
using Qwen.Grains.Interfaces;

namespace Qwen.Grains.Tests.Support;

/// <summary>A generation request as it reached a silo's inference worker grain, and who asked.</summary>
internal sealed record ObservedGeneration(string? UserId, string Silo, ChatGenerationRequest Request);

/// <summary>
/// Watches the generations that reach the inference workers of every silo: the conversation grains'
/// in-process calls (<see cref="Watch"/>, through the test silo model) and the calls to the worker
/// grains (an incoming grain call filter): the requests in arrival order, which user's conversation
/// sent them, and how many ran at once. A streamed reply on the worker grain is one enumeration
/// (StartEnumeration, MoveNext..., DisposeAsync); it runs from its start until a call ends it. <see cref="Hold"/> keeps new generations at the door until
/// <see cref="Release"/>, so a test can keep a turn running while it queues or cancels others.
/// </summary>
internal sealed class WorkerCallObserver
{
    private const EnumerationResult Terminal =
        EnumerationResult.Completed | EnumerationResult.MissingEnumeratorError | EnumerationResult.Error | EnumerationResult.Canceled;

    private readonly Lock _gate = new();
    private readonly List<ObservedGeneration> _generations = [];
    private readonly Dictionary<Guid, string?> _running = [];
    private readonly Dictionary<string, int> _maxRunningPerUser = [];
    private readonly SemaphoreSlim _started = new(0);
    private TaskCompletionSource _door = Open();
    private int _maxRunning;

    /// <summary>Generation requests in the order they reached a worker.</summary>
    public IReadOnlyList<ObservedGeneration> Generations
    {
        get
        {
            lock (_gate) return [.. _generations];
        }
    }

    public IReadOnlyList<ChatGenerationRequest> Requests => [.. Generations.Select(g => g.Request)];

    public IReadOnlyList<ChatGenerationRequest> RequestsOf(string userId) => [.. Generations.Where(g => g.UserId == userId).Select(g => g.Request)];

    /// <summary>Most generations running at once, over every silo.</summary>
    public int MaxConcurrentGenerations
    {
        get
        {
            lock (_gate) return _maxRunning;
        }
    }

    /// <summary>Most generations of one user's conversation running at once.</summary>
    public int MaxConcurrentGenerationsOf(string userId)
    {
        lock (_gate) return _maxRunningPerUser.GetValueOrDefault(userId);
    }

    public int Running
    {
        get
        {
            lock (_gate) return _running.Count;
        }
    }

    /// <summary>Generations wait at the worker's door from now until <see cref="Release"/>.</summary>
    public void Hold() => Interlocked.Exchange(ref _door, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Release() => Volatile.Read(ref _door).TrySetResult();

    /// <summary>Waits until a generation has reached a worker (each call consumes one arrival).</summary>
    public async Task WaitForGenerationAsync(CancellationToken cancellationToken)
    {
        if (!await _started.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken)) throw new TimeoutException("no generation started");
    }

    /// <summary>The filter for one silo.</summary>
    public IIncomingGrainCallFilter For(string silo) => new Filter(this, silo);

    /// <summary>A conversation's reply generated in-process on <paramref name="silo"/>, watched like a worker grain call.</summary>
    public async IAsyncEnumerable<GenerationEvent> Watch(string userId, string silo, ChatGenerationRequest request,
        Func<IAsyncEnumerable<GenerationEvent>> reply, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var generation = Guid.NewGuid();
        Started(generation, new ObservedGeneration(userId, silo, request));
        try
        {
            await Volatile.Read(ref _door).Task.WaitAsync(cancellationToken);
            await foreach (var e in reply().WithCancellation(cancellationToken)) yield return e;
        }
        finally
        {
            Ended(generation);
        }
    }

    private async Task InvokeAsync(IIncomingGrainCallContext context, string silo)
    {
        if (context.Request.GetInterfaceType() != typeof(IAsyncEnumerableGrainExtension)
            || context.Request.GetArgumentCount() == 0 || context.Request.GetArgument(0) is not Guid enumeration)
        {
            await context.Invoke();
            return;
        }
        // Generic methods are named with their type parameters, e.g. "StartEnumeration<T>".
        string method = context.Request.GetMethodName();
        if (method.StartsWith(nameof(IAsyncEnumerableGrainExtension.StartEnumeration), StringComparison.Ordinal)
            && context.Request.GetArgument(1) is IInvokable { } inner && inner.GetInterfaceType() == typeof(IInferenceWorker)
            && inner.GetArgument(0) is ChatGenerationRequest request)
        {
            Started(enumeration, new ObservedGeneration(UserOf(context), silo, request));
            await Volatile.Read(ref _door).Task.WaitAsync(context.Request.GetCancellationToken());
        }
        bool ended = true;
        try
        {
            await context.Invoke();
            ended = method.StartsWith(nameof(IAsyncEnumerableGrainExtension.DisposeAsync), StringComparison.Ordinal)
                || context.Result is ValueTuple<EnumerationResult, object?> result && (result.Item1 & Terminal) != 0;
        }
        finally
        {
            if (ended) Ended(enumeration);
        }
    }

    private void Started(Guid enumeration, ObservedGeneration generation)
    {
        lock (_gate)
        {
            _generations.Add(generation);
            _running[enumeration] = generation.UserId;
            _maxRunning = Math.Max(_maxRunning, _running.Count);
            if (generation.UserId is { } user)
                _maxRunningPerUser[user] = Math.Max(_maxRunningPerUser.GetValueOrDefault(user), _running.Values.Count(u => u == user));
        }
        _started.Release();
    }

    private void Ended(Guid enumeration)
    {
        lock (_gate) _running.Remove(enumeration);
    }

    private static string? UserOf(IIncomingGrainCallContext context) =>
        context.SourceId is { } source && source.Type.ToString() == "conversation" ? source.Key.ToString() : null;

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private sealed class Filter(WorkerCallObserver observer, string silo) : IIncomingGrainCallFilter
    {
        public Task Invoke(IIncomingGrainCallContext context) => observer.InvokeAsync(context, silo);
    }
}
