namespace Qwen.Inference.Batching;

/// <summary>
/// Decides, step by step, which requests run: a bounded waiting queue per priority, one
/// prefill group at a time, and the decoding set. Plain data-structure logic (no tensors, no
/// clock of its own), so every rule is testable without a model. Thread-safe: requests are
/// enqueued from any thread while the engine loop plans.
/// </summary>
/// <remarks>
/// Requests start in priority order, first come first served within a priority; when the head
/// of the queue does not fit (batch size, KV budget, prefill tokens), nothing behind it starts
/// either, so a large request is never starved by small ones of its own priority.
/// <para>
/// Two admission modes, chosen by how the engine prefills. A padded batch prefills a group as
/// one rectangle, so one group runs at a time and its size times its longest prompt stays within
/// the step's prefill tokens. An engine that prefills each prompt on its own, in chunks under a
/// per-step token budget (<c>chunkedPrefill</c>), admits requests at every plan
/// while others prefill: a sentiment request that arrives during a long chat group starts at the
/// next step instead of waiting for the group, and prompt length limits nothing here.
/// </para>
/// </remarks>
internal sealed class Scheduler<T> where T : class, ISchedulable
{
    private readonly BatchingOptions _options;
    private readonly Lock _lock = new();
    private readonly List<T>[] _waiting = [[], []]; // indexed by RequestPriority
    private readonly List<T> _prefilling = [];
    private readonly List<T> _decoding = [];
    private readonly bool _chunkedPrefill;

    public Scheduler(BatchingOptions options, bool chunkedPrefill = false)
    {
        _options = options.Validate();
        _chunkedPrefill = chunkedPrefill;
    }

    public int Waiting
    {
        get { lock (_lock) return _waiting.Sum(q => q.Count); }
    }

    public int Prefilling
    {
        get { lock (_lock) return _prefilling.Count; }
    }

    public int Decoding
    {
        get { lock (_lock) return _decoding.Count; }
    }

    /// <summary>KV positions the running requests hold against the budget: their count times the longest reservation.</summary>
    public int ReservedKvTokens
    {
        get
        {
            lock (_lock)
            {
                int running = _prefilling.Count + _decoding.Count;
                return running == 0 ? 0 : running * _prefilling.Concat(_decoding).Max(r => r.ReservedTokens);
            }
        }
    }

    /// <summary>Queues a request; it starts at a later <see cref="Plan"/>.</summary>
    /// <param name="request">The request.</param>
    /// <param name="accepted">Runs under the queue's lock once the request is admitted, so nothing
    /// can start it first and a refused request is never counted as waiting.</param>
    /// <exception cref="EngineOverloadedException">The queue is full.</exception>
    /// <exception cref="ArgumentException">The request alone needs more KV than the budget.</exception>
    public void Enqueue(T request, Action? accepted = null)
    {
        if (request.ReservedTokens > _options.KvBudgetTokens)
        {
            throw new ArgumentException(
                $"the request needs {request.ReservedTokens} KV positions (prompt plus reply or label), more than the engine's budget of {_options.KvBudgetTokens}");
        }
        lock (_lock)
        {
            int waiting = _waiting.Sum(q => q.Count);
            if (waiting >= _options.MaxQueueLength)
            {
                throw new EngineOverloadedException(
                    $"the inference queue is full ({waiting} waiting, {_prefilling.Count + _decoding.Count} running); retry later or elsewhere");
            }
            _waiting[(int)request.Priority].Add(request);
            accepted?.Invoke();
        }
    }

    /// <summary>
    /// Drops cancelled and expired requests, starts a new prefill group (when none is in
    /// progress, or at every plan with chunked prefill), and lists the decoding sequences.
    /// </summary>
    /// <param name="now">The engine's clock.</param>
    /// <param name="starting">Runs under the queue's lock for each request of a new prefill group,
    /// so a request leaves the waiting count in the same instant it leaves the queue.</param>
    public SchedulerStep<T> Plan(DateTimeOffset now, Action<T>? starting = null)
    {
        lock (_lock)
        {
            var dropped = new List<DroppedRequest<T>>();
            foreach (var queue in _waiting) DropStale(queue, now, dropped);
            DropStale(_prefilling, now, dropped);
            DropStale(_decoding, now, dropped);

            IReadOnlyList<T> prefill = _prefilling.Count == 0 || _chunkedPrefill ? StartGroup() : [];
            if (starting is not null) foreach (var request in prefill) starting(request);
            return new SchedulerStep<T>(dropped, prefill, _decoding.ToArray());
        }
    }

    /// <summary>
    /// With chunked prefill, starts the waiting requests of <paramref name="priority"/> or a
    /// higher one that fit now, between two prompts of a step, so such a request that arrived
    /// during the step need not wait for its end. Drops nothing: that is the next
    /// <see cref="Plan"/>'s job. Without chunked prefill, starts nothing.
    /// </summary>
    public IReadOnlyList<T> StartArrivals(RequestPriority priority, Action<T>? starting = null)
    {
        if (!_chunkedPrefill) return [];
        lock (_lock)
        {
            var started = StartGroup((int)priority + 1);
            if (starting is not null) foreach (var request in started) starting(request);
            return started;
        }
    }

    /// <summary>A request's prefill ended: a generation goes on decoding, a scoring request is done.</summary>
    public void PrefillCompleted(T request)
    {
        lock (_lock)
        {
            if (!_prefilling.Remove(request)) return; // dropped meanwhile
            if (request.Decodes) _decoding.Add(request);
        }
    }

    /// <summary>A running request ended (finished or failed); its slot is free for the next plan.</summary>
    public void Finished(T request)
    {
        lock (_lock)
        {
            if (!_decoding.Remove(request)) _prefilling.Remove(request);
        }
    }

    /// <summary>Removes and returns every request, waiting or running (the engine is stopping).</summary>
    public IReadOnlyList<T> DrainAll()
    {
        lock (_lock)
        {
            var all = _waiting.SelectMany(q => q).Concat(_prefilling).Concat(_decoding).ToArray();
            foreach (var queue in _waiting) queue.Clear();
            _prefilling.Clear();
            _decoding.Clear();
            return all;
        }
    }

    private static void DropStale(List<T> requests, DateTimeOffset now, List<DroppedRequest<T>> dropped)
    {
        requests.RemoveAll(r =>
        {
            DropReason? reason = r.IsCancelled ? DropReason.Cancelled : r.Deadline <= now ? DropReason.DeadlineExpired : null;
            if (reason is { } why) dropped.Add(new DroppedRequest<T>(r, why));
            return reason is not null;
        });
    }

    /// <param name="priorities">How many priority queues may start requests, most urgent first.</param>
    private List<T> StartGroup(int priorities = int.MaxValue)
    {
        var group = new List<T>();
        foreach (var queue in _waiting.Take(priorities))
        {
            int taken = 0;
            while (taken < queue.Count && Fits(group, queue[taken])) group.Add(queue[taken++]);
            queue.RemoveRange(0, taken);
            if (taken < queue.Count) break; // the head of this priority waits, so lower ones wait too
        }
        _prefilling.AddRange(group);
        return group;
    }

    private bool Fits(List<T> group, T candidate)
    {
        // With chunked prefill, requests still prefilling from earlier plans count against every limit.
        var started = _chunkedPrefill ? _prefilling.Concat(group).ToList() : group;
        if (started.Count + 1 > _options.MaxBatchSize) return false;
        int decoders = _decoding.Count + started.Count(r => r.Decodes) + (candidate.Decodes ? 1 : 0);
        if (decoders > _options.MaxBatchSize) return false;

        // A padded group: the first prompt always starts (a long one is prefilled alone, in chunks).
        if (!_chunkedPrefill && group.Count > 0)
        {
            int longestPrompt = Math.Max(candidate.PromptTokens, group.Max(r => r.PromptTokens));
            if ((group.Count + 1) * longestPrompt > _options.MaxPrefillTokensPerStep) return false;
        }

        int running = _decoding.Count + started.Count + 1;
        int longestReservation = _decoding.Concat(started).Append(candidate).Max(r => r.ReservedTokens);
        return (long)running * longestReservation <= _options.KvBudgetTokens;
    }
}
