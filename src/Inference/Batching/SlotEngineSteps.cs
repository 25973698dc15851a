using System.Diagnostics;
using Qwen.Inference.Engine;
using Qwen.Inference.Generation;

namespace Qwen.Inference.Batching;

/// <summary>
/// Engine steps for a shared-buffer model: every sequence owns one slot of a
/// <see cref="SlotKvCache"/>, stored from column 0. A prompt is prefilled straight into its slot
/// in chunks cut where <see cref="PromptChunking"/> allows, after whatever prefix the
/// <see cref="PrefixCache"/> supplies: on a model with prompt lanes several prompts per model call
/// and the step's last ones beside the decode rows (SlotEngineSteps.Lanes.cs), otherwise one
/// chunk per call. Decoding sequences occupy slots 0..n-1 and decode together, each attending
/// over its own length. A finished row's slot is refilled by moving the last row into it, and
/// the buffer grows by reallocation when a request needs more room.
/// </summary>
/// <remarks>
/// Why a row computes the same bits in every configuration: no row ever sees another row or
/// padding (GroupQueryAttention runs one GEMM per row and head over that row's length, and each
/// lane has its own), the linears treat rows (tokens) independently, and a prompt position's KV
/// does not depend on where its chunk starts as long as every chunk is one that
/// <see cref="PromptChunking"/> calls exact (the prefix cache keeps prompt positions only).
/// <c>SlotExactnessTests</c> and <c>IsolationTests</c> check it.
/// </remarks>
internal sealed partial class SlotEngineSteps : IEngineSteps
{
    private readonly DecoderSession _session;
    private readonly Scheduler<EngineRequest> _scheduler;
    private readonly BatchingOptions _options;
    private readonly SlotKvCache _kv;
    private readonly PrefixCache? _prefix;
    private readonly List<GenerationJob> _decoding = []; // row i lives in slot i
    private List<Member> _group = [];
    private long _step;

    /// <summary>A request of the current prefill group, with its slot and the prompt positions cached so far.</summary>
    private sealed class Member(EngineRequest request, int slot)
    {
        public EngineRequest Request { get; } = request;
        public int Slot { get; set; } = slot;
        public int Done { get; set; }
        public bool LookedUp { get; set; }

        /// <summary>Its prefill completed (or it was answered meanwhile): it no longer occupies its slot as a prefill.</summary>
        public bool Finished { get; set; }
    }

    public SlotEngineSteps(DecoderSession session, Scheduler<EngineRequest> scheduler, BatchingOptions options, PrefixCache? prefix)
    {
        _session = session;
        _scheduler = scheduler;
        _options = options;
        _kv = session.CreateSlotCache();
        _kv.ReturnFreedPages = options.ReturnFreedKvPages;
        _prefix = prefix;
    }

    public bool IsBusy => _group.Count > 0 || _decoding.Count > 0;

    public int KvTokensInUse =>
        Enumerable.Range(0, _decoding.Count).Sum(_kv.LengthOf) + _group.Where(m => !m.Finished).Sum(m => _kv.LengthOf(m.Slot));

    public int KvCapacityTokens => _kv.Slots * _kv.Capacity;

    public EngineStepReport Run(SchedulerStep<EngineRequest> plan, CancellationToken stopping)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var (request, reason) in plan.Dropped) request.Drop(reason);
        if (plan.Prefill.Count > 0) StartGroup(plan.Prefill);
        int prefillRows = 0, prefillColumns = 0;
        List<Member> joining = [];
        List<LaneWork> withDecode = [];
        try
        {
            (prefillRows, prefillColumns, withDecode) = _session.PromptLanes > 0 ? RunLanePrefill(joining, stopping) : RunPrefill(joining, stopping);
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            // A failed prefill answers its own group (those about to join too); the decoding sequences go on.
            foreach (var member in joining)
            {
                member.Request.TryFail(e);
                _scheduler.Finished(member.Request);
            }
            joining.Clear();
            withDecode = [];
            FailGroup(e);
        }
        var prefillElapsed = Stopwatch.GetElapsedTime(started);
        Relayout(joining);
        joining.Clear();
        var (decodeRows, decodeContext, laneRows, laneTokens) = RunDecode(withDecode, joining, stopping);
        if (joining.Count > 0) Relayout(joining); // prompts completed beside the decode rows join them for the next step
        FitMemory();
        return new EngineStepReport(++_step, prefillRows + laneRows, prefillColumns + laneTokens, decodeRows, _scheduler.Waiting,
            Stopwatch.GetElapsedTime(started), prefillElapsed)
        {
            PrefillTokens = prefillColumns + laneTokens,
            DecodeContextTokens = decodeContext,
            LaneTokens = laneTokens,
        };
    }

    public void FailAll(Exception error)
    {
        FailGroup(error);
        foreach (var job in _decoding)
        {
            job.TryFail(error);
            _scheduler.Finished(job);
        }
        _decoding.Clear();
        _kv.Release();
    }

    private void FailGroup(Exception error)
    {
        foreach (var member in _group.Where(m => !m.Finished))
        {
            member.Request.TryFail(error);
            _scheduler.Finished(member.Request);
        }
        _group = [];
        ClearSlotsFrom(_decoding.Count);
    }

    /// <summary>Marks every slot after the decode rows empty (their prefills are over or abandoned).</summary>
    private void ClearSlotsFrom(int first)
    {
        for (int s = first; s < _kv.Slots; s++) _kv.SetLength(s, 0);
    }

    /// <summary>
    /// Adds newly started requests to the prefill line, each in the lowest free slot after the
    /// decode rows, and each behind the members of its own or a higher priority (so a sentiment
    /// request that starts while a chat group prefills goes next).
    /// </summary>
    /// <param name="requests">The requests that start.</param>
    /// <param name="joining">Members whose prefill completed this step and whose slots still hold their KV until they join the decode rows.</param>
    private void StartGroup(IReadOnlyList<EngineRequest> requests, IReadOnlyList<Member>? joining = null)
    {
        var taken = _group.Where(m => !m.Finished).Concat(joining ?? []).Select(m => m.Slot).ToHashSet();
        int slot = _decoding.Count;
        var added = new List<Member>();
        foreach (var request in requests)
        {
            while (taken.Contains(slot)) slot++;
            added.Add(new Member(request, slot++));
        }
        int capacity = _decoding.Select(j => j.ReservedTokens).Concat(_group.Concat(added).Select(m => m.Request.ReservedTokens)).Max();
        // Sized at once for a full batch decoding and a full group prefilling, of ordinary chat
        // turns: growing copies every cached position, while untouched slots and positions cost
        // address space only.
        _kv.Reserve(Math.Max(slot, 2 * _options.MaxBatchSize), Math.Max(capacity, _options.KvSlotMinCapacity));
        foreach (var member in added)
        {
            member.Request.MarkStarted();
            _kv.SetLength(member.Slot, 0);
            int place = _group.FindLastIndex(m => m.Request.Priority <= member.Request.Priority) + 1;
            _group.Insert(place, member);
        }
    }

    /// <summary>
    /// Prompt chunks, one request at a time in group order, until this step's token budget is
    /// spent (at least one chunk runs). Completed generations are added to <paramref name="joining"/>.
    /// </summary>
    private (int Rows, int Columns, List<LaneWork> WithDecode) RunPrefill(List<Member> joining, CancellationToken stopping)
    {
        int budget = _options.MaxPrefillTokensPerStep, rows = 0, columns = 0;
        bool admittedArrivals = false;
        while (true)
        {
            if (rows > 0 && !admittedArrivals) admittedArrivals = AdmitArrivals(joining, ref budget);
            var member = NextMember();
            if (member is null) break;
            if (columns > 0 && budget < 2) break;
            var prompt = member.Request.PromptIds;
            LookUpPrefix(member);
            rows++;
            while (member.Done < prompt.Count && (columns == 0 || budget >= 2))
            {
                var chunk = NextChunk(member, budget);
                using var logits = _session.StepSlots(chunk.Ids, chunk.Positions, chunk.Ids.Length, _kv, member.Slot, 1, 1 + chunk.CueTokens, stopping);
                member.Done += chunk.Width;
                budget -= chunk.Ids.Length;
                columns += chunk.Ids.Length;
                if (member.Done == prompt.Count) columns += Complete(member, logits, joining, stopping);
            }
            if (!member.Finished) break; // the budget ran out inside this prompt
        }
        _group.RemoveAll(m => m.Finished);
        return (rows, columns, []);
    }

    /// <summary>
    /// Between prompts, high-priority requests that arrived during the step join the line, once per
    /// step: a sentiment request then waits for one prompt, not for the whole step. They bring their
    /// own prompt tokens to the budget, so the prompts planned for this step still run in it. Once
    /// only, and chat requests wait for the next plan, so a step cannot keep growing (a client
    /// answered early in the step could come back again and again) while decode rows wait.
    /// </summary>
    /// <returns>Whether any arrived (then the step admits no more).</returns>
    private bool AdmitArrivals(List<Member> joining, ref int budget)
    {
        if (_scheduler.StartArrivals(RequestPriority.High, r => r.MarkStarted()) is not { Count: > 0 } arrivals) return false;
        StartGroup(arrivals, joining);
        budget = Math.Max(budget, 0) + arrivals.Sum(r => r.PromptTokens);
        return true;
    }

    /// <summary>The next chunk of a prompt: its tokens (the probe's cue after the prompt's last ones) and positions.</summary>
    private sealed record Chunk(long[] Ids, long[] Positions, int Width, int CueTokens);

    /// <summary>A prompt chunk that runs in a lane of a model call.</summary>
    private sealed record LaneWork(Member Member, Chunk Chunk);

    /// <summary>The first member of the line still prefilling (other than <paramref name="except"/>); cancelled ones leave it.</summary>
    private Member? NextMember(IEnumerable<Member>? except = null)
    {
        var skipped = except?.ToHashSet() ?? [];
        while (_group.FirstOrDefault(m => !m.Finished && !skipped.Contains(m)) is { } member)
        {
            if (!member.Request.IsDone) return member;
            member.Finished = true; // cancelled or expired: the plan dropped it
            _kv.SetLength(member.Slot, 0);
        }
        return null;
    }

    private void LookUpPrefix(Member member)
    {
        if (member.LookedUp) return;
        member.LookedUp = true;
        var prompt = member.Request.PromptIds;
        // At most n - 2 cached positions, so the rest is a chunk of two or more tokens.
        if (_prefix is not null && prompt.Count > 2) member.Done = _prefix.CopyLongestPrefix(prompt, prompt.Count - 2, _kv, member.Slot);
    }

    /// <summary>The member's next chunk within about <paramref name="budget"/> tokens, cut where <see cref="PromptChunking"/> allows.</summary>
    private static Chunk NextChunk(Member member, int budget)
    {
        var prompt = member.Request.PromptIds;
        int remaining = prompt.Count - member.Done;
        // A probe's cue rides along in the prompt's last chunk: one model call gives the reply's first logits
        // (at the prompt's end) and the probe's (at the cue's end); the cue's KV is dropped in Complete.
        IReadOnlyList<int> probeCue = member.Request is GenerationJob { Probe: { } probe } ? probe.CueIds : [];
        int width = PromptChunking.NextWidth(remaining, budget, probeCue.Count);
        IReadOnlyList<int> cue = width == remaining ? probeCue : [];
        var ids = new long[width + cue.Count];
        var positions = new long[width + cue.Count];
        for (int t = 0; t < width + cue.Count; t++)
        {
            ids[t] = t < width ? prompt[member.Done + t] : cue[t - width];
            positions[t] = member.Done + t;
        }
        return new Chunk(ids, positions, width, cue.Count);
    }

    /// <summary>
    /// A prompt is cached: its KV goes to the prefix cache; a generation with a probe scores it
    /// first (its cue came with the prompt's last chunk; longer labels continue in its slot), cuts
    /// the slot back to the prompt, then chooses its first token from the prompt's last logits and
    /// joins the decode rows; a scoring request scores its labels (continuations in its own slot,
    /// one label at a time) and is answered.
    /// </summary>
    /// <returns>Positions computed by steps of their own (a probe's label continuations).</returns>
    private int Complete(Member member, StepLogits logits, List<Member> joining, CancellationToken stopping)
    {
        member.Finished = true;
        var request = member.Request;
        int extra = 0;
        if (request is GenerationJob { Probe: { } probe } probed)
        {
            extra = ScoreProbe(member.Slot, probed, probe, logits, stopping);
            _kv.SetLength(member.Slot, request.PromptIds.Count);
        }
        _prefix?.Insert(request.PromptIds, _kv, member.Slot);
        switch (request)
        {
            case GenerationJob generation:
                if (generation.Probe is not null && !generation.CompleteProbe())
                {
                    _kv.SetLength(member.Slot, 0);
                    break;
                }
                // With a probe, the prompt's last logits come before the cue's.
                var first = logits.Row(0, logits.Positions - 1 - (generation.Probe?.CueIds.Count ?? 0));
                if (generation.Advance(first)) joining.Add(member);
                else _kv.SetLength(member.Slot, 0); // done at its first token: the slot is free
                break;
            case ScoringJob scoring:
                scoring.ScoreFirstTokens(logits.Last(0));
                foreach (int k in scoring.LongLabels) scoring.AddContinuation(k, Continuation(member.Slot, scoring.Labels[k], stopping));
                scoring.Complete();
                _kv.SetLength(member.Slot, 0);
                break;
        }
        _scheduler.PrefillCompleted(request);
        if (request.IsDone) _scheduler.Finished(request);
        return extra;
    }

    /// <summary>
    /// Scores the probe's labels: first tokens from the cue's last logits, longer labels by
    /// continuations after the cue in the slot (which then still holds prompt and cue). Returns
    /// the positions the continuations computed.
    /// </summary>
    private int ScoreProbe(int slot, GenerationJob job, LabelProbe probe, StepLogits logits, CancellationToken stopping)
    {
        job.ScoreProbeFirstTokens(logits.Last(0));
        foreach (int k in job.LongProbeLabels) job.AddProbeContinuation(k, Continuation(slot, probe.Labels[k], stopping));
        return probe.ComputedTokens - probe.CueIds.Count;
    }

    /// <summary>log P(label[1..] | prompt, label[0]) from one step in the prompt's slot; the slot keeps the prompt only.</summary>
    private double Continuation(int slot, IReadOnlyList<int> label, CancellationToken stopping)
    {
        int cached = _kv.LengthOf(slot), width = label.Count - 1;
        var ids = new long[width];
        var positions = new long[width];
        for (int t = 0; t < width; t++)
        {
            ids[t] = label[t];
            positions[t] = cached + t;
        }
        double logProb = 0;
        using (var logits = _session.StepSlots(ids, positions, width, _kv, slot, 1, 0, stopping))
        {
            int offset = logits.Positions - width;
            for (int t = 0; t < width; t++)
            {
                var row = logits.Row(0, offset + t);
                logProb += row[label[t + 1]] - LabelScorer.LogSumExp(row);
            }
        }
        _kv.SetLength(slot, cached);
        return logProb;
    }

    /// <summary>Frees the slots of rows that finished (the last row moves into each hole) and moves joining rows to the end of the decode rows.</summary>
    private void Relayout(List<Member> joining)
    {
        for (int i = _decoding.Count - 1; i >= 0; i--)
        {
            if (!_decoding[i].IsDone) continue;
            if (_options.ReuseReplyKv) KeepReply(_decoding[i], i);
            int last = _decoding.Count - 1;
            if (i != last)
            {
                _kv.Move(last, i);
                _decoding[i] = _decoding[last];
            }
            _kv.SetLength(last, 0);
            _decoding.RemoveAt(last);
        }
        // In slot order: every joining slot then lies at or after its target, so moving one never
        // overwrites another that has yet to move (the prefill line runs in priority order, not slot order).
        foreach (var member in joining.OrderBy(m => m.Slot))
        {
            var job = (GenerationJob)member.Request;
            if (job.IsDone)
            {
                _kv.SetLength(member.Slot, 0); // answered meanwhile (cancelled during the step)
                continue;
            }
            int target = _decoding.Count;
            if (member.Slot != target)
            {
                if (_group.FirstOrDefault(m => !m.Finished && m.Slot == target) is { } occupant)
                {
                    _kv.Swap(member.Slot, target);
                    occupant.Slot = member.Slot;
                }
                else
                {
                    _kv.Move(member.Slot, target);
                }
                member.Slot = target;
            }
            _decoding.Add(job);
        }
    }

    /// <summary>
    /// Puts a finished reply's KV into the prefix cache under its tokens: the slot holds the prompt
    /// and every reply token but the last (sampled, never fed back).
    /// </summary>
    private void KeepReply(GenerationJob job, int slot)
    {
        if (_prefix is null || job.Progress.Finish is null) return; // cancelled or failed: keep nothing
        int length = _kv.LengthOf(slot), prompt = job.PromptIds.Count;
        if (length / PrefixCache.BlockTokens == prompt / PrefixCache.BlockTokens) return; // no whole block beyond the prompt's
        _prefix.Insert([.. job.PromptIds, .. job.Progress.Tokens.Take(length - prompt)], _kv, slot);
    }

    /// <summary>
    /// Gives KV memory back while busy only when the buffer is far larger (16×) than the running
    /// requests need, e.g. after a long request left: reallocating costs a copy of every cached
    /// position and fresh pages, so ordinary ebb and flow keeps the buffer as it is.
    /// </summary>
    private void FitMemory()
    {
        if (!IsBusy) return;
        var active = _decoding.Cast<EngineRequest>().Concat(_group.Where(m => !m.Finished).Select(m => m.Request)).ToArray();
        int slots = Math.Max(_decoding.Count, _group.Where(m => !m.Finished).Select(m => m.Slot + 1).DefaultIfEmpty(0).Max());
        int capacity = Math.Max(2, active.Select(r => r.ReservedTokens).DefaultIfEmpty(0).Max());
        _kv.ShrinkToFit(Math.Max(slots, 2 * _options.MaxBatchSize), Math.Max(capacity, _options.KvSlotMinCapacity));
    }

    public void ReleaseIdleMemory()
    {
        if (!IsBusy) _kv.Release();
    }

    /// <summary>
    /// One token for every decode row, with the prompt chunks of <paramref name="withDecode"/> (if
    /// any) in the lanes of the same call; prompts that complete are added to <paramref name="joining"/>.
    /// </summary>
    /// <returns>The rows decoded, the positions they attended over (summed), and the prompts and positions the lanes computed.</returns>
    private (int Rows, long Context, int LaneRows, int LaneTokens) RunDecode(List<LaneWork> withDecode, List<Member> joining,
        CancellationToken stopping)
    {
        foreach (var work in withDecode.Where(w => w.Member.Request.IsDone))
        {
            work.Member.Finished = true; // cancelled during the step
            _kv.SetLength(work.Member.Slot, 0);
        }
        if (withDecode.RemoveAll(w => w.Member.Finished) > 0) _group.RemoveAll(m => m.Finished);
        int rows = _decoding.Count;
        if (rows == 0 && withDecode.Count == 0) return (0, 0, 0, 0);
        var ids = new long[rows];
        var positions = new long[rows];
        long context = 0;
        for (int r = 0; r < rows; r++)
        {
            ids[r] = _decoding[r].Progress.LastToken;
            positions[r] = _kv.LengthOf(r);
            context += positions[r] + 1;
        }
        int laneTokens = 0;
        if (withDecode.Count == 0)
        {
            using var logits = _session.StepSlots(ids, positions, 1, _kv, 0, rows, 1, stopping);
            Advance(r => logits.Last(r));
        }
        else
        {
            using var logits = _session.StepMixed(_kv, 0, ids, positions, [.. withDecode.Select(LaneChunkOf)], stopping);
            // Prompts first: a sentiment request in the call is answered before the chat tokens of the same call.
            laneTokens = CompleteChunks(withDecode, logits, joining, stopping);
            _group.RemoveAll(m => m.Finished);
            Advance(logits.Decode);
        }
        return (rows, context, withDecode.Count, laneTokens);

        void Advance(Func<int, ReadOnlySpan<float>> logitsOf)
        {
            for (int r = 0; r < rows; r++)
            {
                var job = _decoding[r];
                if (job.IsDone) continue; // cancelled during the step: the next plan drops it
                if (!job.Advance(logitsOf(r))) _scheduler.Finished(job);
            }
        }
    }

    public void Dispose()
    {
        _group = [];
        _decoding.Clear();
        _kv.Release();
        _prefix?.Dispose();
    }
}
