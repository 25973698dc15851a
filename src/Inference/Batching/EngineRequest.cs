namespace Qwen.Inference.Batching;

/// <summary>
/// A submitted request as the engine tracks it: what the scheduler needs to know, and how its
/// caller is answered. A caller's cancellation answers it at once; the engine frees its slot at
/// the next step.
/// </summary>
internal abstract class EngineRequest : ISchedulable
{
    private const int Waiting = 0, Running = 1, Answered = 2;

    private volatile bool _cancelled;
    private int _state;
    private RequestCounts? _counts;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;

    protected EngineRequest(IReadOnlyList<int> promptIds, int reservedTokens, RequestPriority priority, DateTimeOffset? deadline)
    {
        PromptIds = promptIds;
        ReservedTokens = reservedTokens;
        Priority = priority;
        Deadline = deadline;
    }

    public IReadOnlyList<int> PromptIds { get; }
    public RequestPriority Priority { get; }
    public abstract bool Decodes { get; }
    public int PromptTokens => PromptIds.Count;
    public int ReservedTokens { get; }
    public DateTimeOffset? Deadline { get; }
    public bool IsCancelled => _cancelled;

    /// <summary>The caller has its answer (result, failure or cancellation); no more model work is due.</summary>
    public bool IsDone => Volatile.Read(ref _state) == Answered;

    /// <summary>Counts the request as waiting in <paramref name="counts"/> until it starts or is answered.</summary>
    public void CountIn(RequestCounts counts)
    {
        _counts = counts;
        counts.Submitted();
    }

    /// <summary>The request's prefill begins (unless it was answered meanwhile).</summary>
    public void MarkStarted()
    {
        if (Interlocked.CompareExchange(ref _state, Running, Waiting) == Waiting) _counts?.Started();
    }

    /// <summary>Links the caller's token; <paramref name="wake"/> tells the engine loop to look.</summary>
    public void CancelWith(CancellationToken token, Action wake)
    {
        if (!token.CanBeCanceled) return;
        _token = token;
        _registration = token.UnsafeRegister(_ =>
        {
            _cancelled = true;
            TryCancel(token);
            wake();
        }, null);
    }

    /// <summary>Answers a request the scheduler dropped.</summary>
    public void Drop(DropReason reason)
    {
        if (reason == DropReason.Cancelled) TryCancel(_token);
        else TryFail(new RequestDeadlineExceededException($"the request's deadline {Deadline:O} passed before it finished"));
    }

    public abstract bool TryFail(Exception exception);

    protected abstract bool TryCancel(CancellationToken token);

    /// <summary>
    /// Claims the one answer: stops counting the request and listening to its token, and returns
    /// whether this caller is the first. The counts change before the caller's task completes, so
    /// whoever awaits it already sees them settled.
    /// </summary>
    protected bool TryBeginAnswer()
    {
        int previous = Interlocked.Exchange(ref _state, Answered);
        if (previous == Answered) return false;
        _counts?.Answered(started: previous == Running);
        _registration.Unregister(); // without waiting for a callback that is running
        return true;
    }
}

/// <summary>A request whose caller awaits a <typeparamref name="TResult"/>.</summary>
internal abstract class EngineRequest<TResult> : EngineRequest
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected EngineRequest(IReadOnlyList<int> promptIds, int reservedTokens, RequestPriority priority, DateTimeOffset? deadline)
        : base(promptIds, reservedTokens, priority, deadline)
    {
    }

    public Task<TResult> Completion => _completion.Task;

    public bool TrySucceed(TResult result) => TryBeginAnswer() && _completion.TrySetResult(result);

    public override bool TryFail(Exception exception) => TryBeginAnswer() && _completion.TrySetException(exception);

    protected override bool TryCancel(CancellationToken token) => TryBeginAnswer() && _completion.TrySetCanceled(token);
}
