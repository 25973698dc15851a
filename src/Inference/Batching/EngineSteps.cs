using System.Diagnostics;
using Qwen.Inference.Engine;

namespace Qwen.Inference.Batching;

/// <summary>
/// One engine step at a time, on the engine's thread: applies the scheduler's plan, runs the
/// prefill chunk and the decode step through the <see cref="ModelRunner"/>, feeds the logits
/// back to their requests, and re-lays out the decode batch's KV only when its members change.
/// </summary>
internal sealed class EngineSteps : IEngineSteps
{
    private readonly ModelRunner _runner;
    private readonly Scheduler<EngineRequest> _scheduler;
    private readonly BatchingOptions _options;
    private PrefillRun? _prefill;
    private EngineRequest[] _prefillRequests = [];
    private KvGrid? _batch;
    private List<GenerationJob> _batchJobs = [];
    private long _step;

    public EngineSteps(ModelRunner runner, Scheduler<EngineRequest> scheduler, BatchingOptions options)
    {
        _runner = runner;
        _scheduler = scheduler;
        _options = options;
    }

    /// <summary>True while a prefill is under way or sequences are decoding.</summary>
    public bool IsBusy => _prefill is not null || _batchJobs.Count > 0;

    public int KvCapacityTokens => _batch is { } batch ? batch.Rows * batch.Length : 0;

    public int KvTokensInUse => _batch is { } batch ? Enumerable.Range(0, batch.Rows).Sum(batch.UsedLength) : 0;

    public EngineStepReport Run(SchedulerStep<EngineRequest> plan, CancellationToken stopping)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var (request, reason) in plan.Dropped) request.Drop(reason);
        if (plan.Prefill.Count > 0) StartPrefill(plan.Prefill);
        int prefillRows = 0, prefillColumns = 0;
        List<(GridRow, GenerationJob)> joining = [];
        try
        {
            (prefillRows, prefillColumns, joining) = RunPrefill(stopping);
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            // A failed prefill answers its own group; the decoding sequences go on.
            FailPrefill(e);
        }
        var prefillElapsed = Stopwatch.GetElapsedTime(started);
        Relayout(joining);
        int decodeRows = RunDecode(stopping);
        return new EngineStepReport(++_step, prefillRows, prefillColumns, decodeRows, _scheduler.Waiting, Stopwatch.GetElapsedTime(started),
            prefillElapsed);
    }

    /// <summary>Nothing is kept between requests: a grid's KV leaves with its batch.</summary>
    public void ReleaseIdleMemory()
    {
    }

    /// <summary>Answers every request in flight with <paramref name="error"/> and drops the batches' KV.</summary>
    public void FailAll(Exception error)
    {
        foreach (var request in _prefillRequests.Concat(_batchJobs))
        {
            request.TryFail(error);
            _scheduler.Finished(request);
        }
        DisposePrefill();
        _batch?.Dispose();
        _batch = null;
        _batchJobs = [];
    }

    private void FailPrefill(Exception error)
    {
        foreach (var request in _prefillRequests)
        {
            request.TryFail(error);
            _scheduler.Finished(request);
        }
        DisposePrefill();
    }

    private void StartPrefill(IReadOnlyList<EngineRequest> requests)
    {
        // The scheduler starts a group only when the previous one left, so any old run is abandoned.
        DisposePrefill();
        foreach (var request in requests) request.MarkStarted();
        _prefill = _runner.StartPrefill(requests.Select(r => r.PromptIds).ToArray());
        _prefillRequests = [.. requests];
    }

    private (int Rows, int Columns, List<(GridRow Row, GenerationJob Job)> Joining) RunPrefill(CancellationToken stopping)
    {
        if (_prefill is not { } run) return (0, 0, []);
        if (_prefillRequests.All(r => r.IsDone))
        {
            DisposePrefill();
            return (0, 0, []);
        }
        int before = run.Done, probed = 0;
        List<(GridRow, GenerationJob)> joining = [];
        using (var logits = _runner.Prefill(run, _options.MaxPrefillTokensPerStep, stopping))
        {
            if (run.IsComplete) (joining, probed) = CompletePrefill(run, logits, stopping);
        }
        return (run.Rows, run.Done - before + probed, joining);
    }

    /// <summary>
    /// Every prompt's last logits: generations with a probe have it scored first (one step on
    /// copies of their prompts' KV), then generations choose their first token and join the decode
    /// batch; scoring requests take their first-token scores, run one continuation step
    /// together for their longer labels, and are answered.
    /// </summary>
    /// <returns>The joining rows, and the positions the probes computed.</returns>
    private (List<(GridRow Row, GenerationJob Job)> Joining, int Probed) CompletePrefill(PrefillRun run, StepLogits logits,
        CancellationToken stopping)
    {
        var joining = new List<(GridRow, GenerationJob)>();
        var continuations = new List<(GridRow Row, ScoringJob Job, int Label)>();
        var probed = Enumerable.Range(0, run.Rows)
            .Where(r => _prefillRequests[r] is GenerationJob { IsDone: false, Probe: not null })
            .Select(r => (Row: new GridRow(run.Grid, r), Job: (GenerationJob)_prefillRequests[r])).ToArray();
        int probedTokens = 0;
        if (probed.Length > 0)
        {
            var scores = _runner.ScoreProbes(probed.Select(p => p.Row).ToArray(), probed.Select(p => p.Job.Probe!).ToArray(), stopping);
            for (int i = 0; i < probed.Length; i++)
            {
                var job = probed[i].Job;
                for (int k = 0; k < scores[i].Length; k++) job.AddProbeContinuation(k, scores[i][k]);
                job.CompleteProbe();
                probedTokens += job.Probe!.ComputedTokens;
            }
        }
        for (int r = 0; r < run.Rows; r++)
        {
            switch (_prefillRequests[r])
            {
                case { IsDone: true }:
                    break;
                case GenerationJob generation:
                    if (generation.Advance(logits.Last(r))) joining.Add((new GridRow(run.Grid, r), generation));
                    break;
                case ScoringJob scoring:
                    scoring.ScoreFirstTokens(logits.Last(r));
                    foreach (int k in scoring.LongLabels) continuations.Add((new GridRow(run.Grid, r), scoring, k));
                    break;
            }
        }
        if (continuations.Count > 0)
        {
            double[] logProbs = _runner.ScoreContinuations(
                continuations.Select(c => c.Row).ToArray(), continuations.Select(c => c.Job.Labels[c.Label]).ToArray(), stopping);
            for (int i = 0; i < continuations.Count; i++) continuations[i].Job.AddContinuation(continuations[i].Label, logProbs[i]);
        }
        foreach (var request in _prefillRequests)
        {
            if (request is ScoringJob scoring) scoring.Complete();
            _scheduler.PrefillCompleted(request);
            if (request.IsDone) _scheduler.Finished(request);
        }
        return (joining, probedTokens);
    }

    /// <summary>
    /// Rebuilds the decode batch when members leave or join: the rows still running plus the
    /// newly prefilled ones. A batch that only receives a whole new prefill takes its KV as it is.
    /// </summary>
    private void Relayout(List<(GridRow Row, GenerationJob Job)> joining)
    {
        bool leaving = _batchJobs.Any(j => j.IsDone);
        if (joining.Count == 0 && !leaving)
        {
            if (_prefill is { IsComplete: true }) DisposePrefill();
            return;
        }

        // Decided once: a caller may cancel meanwhile, and rows and jobs must stay aligned.
        var kept = _batchJobs.Select((job, row) => (Row: new GridRow(_batch!, row), Job: job)).Where(x => !x.Job.IsDone)
            .Concat(joining).ToArray();
        var jobs = kept.Select(x => x.Job).ToList();
        KvGrid? next;
        if (joining.Count > 0 && kept.Length == joining.Count && joining.Count == _prefill!.Rows)
        {
            next = _prefill.TakeGrid();
        }
        else
        {
            next = kept.Length == 0 ? null : _runner.Compose(kept.Select(x => x.Row).ToArray());
        }
        _batch?.Dispose();
        _batch = next;
        _batchJobs = jobs;
        if (_prefill is { IsComplete: true }) DisposePrefill();
    }

    private int RunDecode(CancellationToken stopping)
    {
        if (_batch is not { } batch) return 0;
        int rows = _batchJobs.Count;
        var tokens = _batchJobs.Select(j => j.Progress.LastToken).ToArray();
        using var logits = _runner.Decode(batch, tokens, stopping);
        for (int r = 0; r < rows; r++)
        {
            var job = _batchJobs[r];
            if (job.IsDone) continue; // cancelled during the step: the next plan drops it
            if (!job.Advance(logits.Last(r))) _scheduler.Finished(job);
        }
        return rows;
    }

    private void DisposePrefill()
    {
        _prefill?.Dispose();
        _prefill = null;
        _prefillRequests = [];
    }

    public void Dispose()
    {
        DisposePrefill();
        _batch?.Dispose();
        _batch = null;
    }
}
