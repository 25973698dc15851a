using System.Runtime.CompilerServices;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// The silo's inference worker as outside callers reach it: calls count as in flight for a
/// graceful drain and are refused once the silo stops accepting. Grains on this silo call the
/// worker directly, so turns already accepted still finish during a drain.
/// </summary>
internal sealed class AdmissionCheckedInferenceWorker(IInferenceWorker worker, CallAdmission admission) : IInferenceWorker
{
    public async Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken)
    {
        admission.Enter();
        try
        {
            return await worker.AnalyzeSentimentAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            admission.Exit();
        }
    }

    public async IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        admission.Enter();
        try
        {
            await foreach (var e in worker.GenerateReplyAsync(request, cancellationToken).ConfigureAwait(false)) yield return e;
        }
        finally
        {
            admission.Exit();
        }
    }

    /// <summary>Reading the load is not a call to drain: a stopping silo still reports it.</summary>
    public Task<WorkerLoad> GetLoadAsync(CancellationToken cancellationToken) => worker.GetLoadAsync(cancellationToken);
}
