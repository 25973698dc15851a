using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// Continuous batching on one model session: requests are submitted from any thread; one loop
/// on a dedicated thread asks the <see cref="Scheduler{T}"/> what runs, executes one batched
/// step and hands the tokens back. New requests join between steps, finished or cancelled ones
/// leave at once, and each sequence computes what it would compute alone.
/// </summary>
/// <remarks>
/// Token callbacks run on the engine thread between steps: they must be quick and must not
/// block on the engine. A callback that throws fails its own request only.
/// </remarks>
public sealed class BatchingEngine : IDisposable
{
    private readonly DecoderSession _session;
    private readonly Scheduler<EngineRequest> _scheduler;
    private readonly RequestCounts _counts = new();
    private readonly IEngineSteps _steps;
    private readonly PrefixCache? _prefixCache;
    private readonly TimeProvider _time;
    private readonly AutoResetEvent _wake = new(false);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifecycle = new();
    private readonly Thread _thread;
    private bool _disposed;
    private int _decodeBatchSize;
    private int _kvTokensInUse;
    private int _kvCapacityTokens;

    public BatchingEngine(DecoderSession session, BatchingOptions? options = null, TimeProvider? timeProvider = null)
    {
        _session = session;
        Options = (options ?? new BatchingOptions()).Validate();
        _time = timeProvider ?? TimeProvider.System;
        // The model's I/O decides the path: slots for a shared KV buffer (each prompt prefilled
        // on its own, in chunks, so requests start at every step), KV grids for the standard
        // (Hugging Face export) layout (padded groups, one at a time).
        _scheduler = new Scheduler<EngineRequest>(Options, chunkedPrefill: session.Io.SharedKvBuffer);
        if (session.Io.SharedKvBuffer)
        {
            _prefixCache = Options.PrefixCache && Options.PrefixCacheTokens > 0 ? new PrefixCache(Options.PrefixCacheTokens) : null;
            _steps = new SlotEngineSteps(session, _scheduler, Options, _prefixCache);
        }
        else
        {
            _steps = new EngineSteps(new ModelRunner(session), _scheduler, Options);
        }
        _thread = new Thread(Loop) { IsBackground = true, Name = "batching engine" };
        _thread.Start();
    }

    public BatchingOptions Options { get; }

    /// <summary>Bytes one cached position costs (keys and values of every layer), for the KV figures in bytes.</summary>
    public long KvBytesPerPosition => _session.KvBytesPerPosition;

    /// <summary>Requests submitted and not yet started.</summary>
    public int WaitingRequests => _counts.Waiting;

    /// <summary>Requests started (prefilling or decoding) and not yet answered.</summary>
    public int RunningRequests => _counts.Running;

    /// <summary>Rows of the latest decode step (0 when idle).</summary>
    public int DecodeBatchSize => Volatile.Read(ref _decodeBatchSize);

    /// <summary>KV positions reserved by the running requests (at most <see cref="BatchingOptions.KvBudgetTokens"/>).</summary>
    public int ReservedKvTokens => _scheduler.ReservedKvTokens;

    /// <summary>Rows decoding after the latest step (0 when idle).</summary>
    public int ActiveRows => Volatile.Read(ref _decodeBatchSize);

    /// <summary>Requests queued and not started (the same as <see cref="WaitingRequests"/>).</summary>
    public int QueuedRequests => WaitingRequests;

    /// <summary>KV positions held by the running requests after the latest step.</summary>
    public int KvTokensInUse => Volatile.Read(ref _kvTokensInUse);

    /// <summary>KV positions allocated after the latest step (slots × capacity, or grid rows × length; 0 when idle).</summary>
    public int KvCapacityTokens => Volatile.Read(ref _kvCapacityTokens);

    /// <summary>True when this engine keeps each sequence in its own slot of a shared KV buffer (bit-identical rows, prefix cache).</summary>
    public bool UsesKvSlots => _session.Io.SharedKvBuffer;

    /// <summary>True when the prefix cache is on (shared-buffer models only).</summary>
    public bool PrefixCacheEnabled => _prefixCache is not null;

    /// <summary>Prompts that found cached KV for a prefix of theirs.</summary>
    public long PrefixCacheHits => _prefixCache?.Hits ?? 0;

    /// <summary>Prompts (longer than two tokens) that found none.</summary>
    public long PrefixCacheMisses => _prefixCache?.Misses ?? 0;

    /// <summary>Prompt positions copied from the cache instead of computed.</summary>
    public long PrefixCacheHitTokens => _prefixCache?.HitTokens ?? 0;

    /// <summary>Positions the prefix cache holds now.</summary>
    public int PrefixCacheTokens => _prefixCache?.CachedTokens ?? 0;

    /// <summary>
    /// Keeps the KV of <paramref name="tokens"/> (a fixed system prompt, in whole blocks of 16)
    /// in the prefix cache for good once a prompt starting with it has been prefilled. Does
    /// nothing when there is no prefix cache.
    /// </summary>
    public void PinPrefix(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        _prefixCache?.Pin(tokens);
    }

    /// <summary>Raised on the engine thread after every step; an observer's exception is ignored.</summary>
    public event Action<EngineStepReport>? StepCompleted;

    /// <summary>Generates a reply; <paramref name="onToken"/> sees each token as soon as it is chosen.</summary>
    /// <returns>The result; fails with <see cref="EngineOverloadedException"/> when the queue is full,
    /// <see cref="RequestDeadlineExceededException"/> past the deadline, <see cref="ArgumentException"/>
    /// for an invalid request.</returns>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, SubmitOptions? options = null, Action<int>? onToken = null,
        CancellationToken cancellationToken = default) =>
        GenerateAsync(request, options, onToken, null, cancellationToken);

    /// <summary>
    /// Generates a reply; a request with a <see cref="LabelProbe"/> has its labels scored from the
    /// prompt's KV first: <paramref name="onScores"/> sees them before <paramref name="onToken"/>
    /// sees the first token, and the result carries them too.
    /// </summary>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, SubmitOptions? options, Action<int>? onToken,
        Action<IReadOnlyList<LabelScore>>? onScores, CancellationToken cancellationToken) =>
        Submit(() =>
        {
            ArgumentNullException.ThrowIfNull(request);
            RequestValidation.Generation(_session, request);
            return new GenerationJob(request, _session.Model.EosTokenIds, onToken, options ?? SubmitOptions.Default, onScores);
        }, cancellationToken);

    /// <summary>Generates a reply as a stream of token ids; leaving the stream early cancels the generation.</summary>
    public async IAsyncEnumerable<int> StreamAsync(GenerationRequest request, SubmitOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = GenerateAsync(request, options, token => tokens.Writer.TryWrite(token), stop.Token);
        _ = generation.ContinueWith(_ => tokens.Writer.TryComplete(), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await foreach (int token in tokens.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return token;
            await generation.ConfigureAwait(false);
        }
        finally
        {
            if (!generation.IsCompleted) await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Scores candidate labels after a prompt, as <see cref="LabelScorer"/> does; high priority by default.</summary>
    public Task<IReadOnlyList<LabelScore>> ScoreAsync(IReadOnlyList<int> promptIds, IReadOnlyList<IReadOnlyList<int>> labels,
        SubmitOptions? options = null, CancellationToken cancellationToken = default) =>
        Submit(() =>
        {
            ArgumentNullException.ThrowIfNull(promptIds);
            ArgumentNullException.ThrowIfNull(labels);
            RequestValidation.Scoring(_session, [promptIds], labels);
            return new ScoringJob(promptIds, labels, options ?? SubmitOptions.Default);
        }, cancellationToken);

    private Task<T> Submit<T>(Func<EngineRequest<T>> create, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<T>(cancellationToken);
        EngineRequest<T> request;
        try
        {
            request = create();
            lock (_lifecycle)
            {
                // Under the lock, so no request slips in after the loop's final drain.
                ObjectDisposedException.ThrowIf(_disposed, this);
                try
                {
                    _scheduler.Enqueue(request, () => request.CountIn(_counts));
                }
                catch (Exception refused)
                {
                    request.TryFail(refused);
                    return request.Completion;
                }
            }
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
        request.CancelWith(cancellationToken, Wake);
        Wake();
        return request.Completion;
    }

    private void Wake()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // A cancellation after disposal: the loop is gone and every request was answered.
        }
    }

    private void Loop()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            var plan = _scheduler.Plan(_time.GetUtcNow(), request => request.MarkStarted());
            if (plan.IsIdle && !_steps.IsBusy)
            {
                Volatile.Write(ref _decodeBatchSize, 0);
                Volatile.Write(ref _kvTokensInUse, 0);
                Volatile.Write(ref _kvCapacityTokens, _steps.KvCapacityTokens);
                if (!_wake.WaitOne(Options.KvIdleRelease))
                {
                    _steps.ReleaseIdleMemory();
                    Volatile.Write(ref _kvCapacityTokens, _steps.KvCapacityTokens);
                    _wake.WaitOne();
                }
                continue;
            }
            EngineStepReport report;
            try
            {
                report = _steps.Run(plan, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // A failed step answers the requests it carried; the engine goes on with the rest.
                _steps.FailAll(e);
                continue;
            }
            Volatile.Write(ref _decodeBatchSize, report.DecodeRows);
            Volatile.Write(ref _kvTokensInUse, _steps.KvTokensInUse);
            Volatile.Write(ref _kvCapacityTokens, _steps.KvCapacityTokens);
            try
            {
                StepCompleted?.Invoke(report);
            }
            catch (Exception)
            {
                // An observer's failure must not stop the engine.
            }
        }
        var stopped = new ObjectDisposedException(nameof(BatchingEngine), "the engine stopped before the request finished");
        _steps.FailAll(stopped);
        foreach (var request in _scheduler.DrainAll()) request.TryFail(stopped);
        _steps.Dispose();
    }

    /// <summary>Stops the loop (an ongoing model step is interrupted) and fails every unfinished request.</summary>
    public void Dispose()
    {
        lock (_lifecycle)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _stopping.Cancel();
        _wake.Set();
        if (Thread.CurrentThread == _thread) return; // from a token callback: the loop ends after this step
        _thread.Join();
        _wake.Dispose();
        _stopping.Dispose();
    }
}
