using System.Runtime.CompilerServices;
using Qwen.Cluster.Routing;
using Qwen.Cluster.Transport;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Routing;

/// <summary>
/// A reference to one user's conversation grain in the cluster. Each call goes to the owner
/// by rendezvous hashing; if the owner cannot be reached the call moves to the next silo in
/// the user's ranking (telling it which silos failed), and if a silo says it is not the owner
/// the Api re-reads membership and tries again. Turn ids make these retries safe: a turn
/// that was stored is never run twice.
/// </summary>
internal sealed class RoutedConversationGrain(string userId, SiloDirectory directory, SiloClients clients,
    RoutingOptions options, ILogger logger) : IConversationGrain
{
    public Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken) =>
        InvokeAsync((silo, unreachable, ct) => silo.SendTurnAsync(userId, request, ct, unreachable), cancellationToken);

    public Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken) =>
        InvokeAsync((silo, unreachable, ct) => silo.GetHistoryAsync(userId, ct, unreachable), cancellationToken);

    public Task ResetAsync(CancellationToken cancellationToken) =>
        InvokeAsync(async (silo, unreachable, ct) =>
        {
            await silo.ResetAsync(userId, ct, unreachable);
            return true;
        }, cancellationToken);

    public async IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var unreachable = new List<string>();
        for (int attempt = 1; ; attempt++)
        {
            var (siloId, silo) = await PickAsync(unreachable, cancellationToken);
            var stream = silo.StreamTurnAsync(userId, request, cancellationToken, unreachable).GetAsyncEnumerator(cancellationToken);
            bool first = true;
            try
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await stream.MoveNextAsync();
                    }
                    // A full owner answers 429 at once: waiting here would only grow the latency the client sees.
                    catch (GrainCallException e) when (first && e.IsRetryable && e.Kind != GrainErrorKind.Overloaded && attempt < options.MaxAttempts)
                    {
                        await NoteFailureAsync(e, siloId, unreachable, cancellationToken);
                        break;
                    }
                    if (!more) yield break;
                    first = false;
                    yield return stream.Current;
                }
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }
    }

    private async Task<T> InvokeAsync<T>(Func<SiloHttpClient, IReadOnlyCollection<string>, CancellationToken, Task<T>> call,
        CancellationToken cancellationToken)
    {
        var unreachable = new List<string>();
        for (int attempt = 1; ; attempt++)
        {
            var (siloId, silo) = await PickAsync(unreachable, cancellationToken);
            try
            {
                return await call(silo, unreachable, cancellationToken);
            }
            // A full owner answers 429 at once (the conversation's state and prefix cache live there; another silo
            // cannot take the turn); only an unreachable or non-owning silo is worth another attempt.
            catch (GrainCallException e) when (e.IsRetryable && e.Kind != GrainErrorKind.Overloaded && attempt < options.MaxAttempts)
            {
                await NoteFailureAsync(e, siloId, unreachable, cancellationToken);
            }
        }
    }

    private async Task NoteFailureAsync(GrainCallException e, string siloId, List<string> unreachable, CancellationToken cancellationToken)
    {
        logger.LogWarning("Conversation {UserId}: silo {SiloId} could not serve ({Kind}: {Reason}); retrying", userId, siloId, e.Kind, e.Message);
        if (e.Kind == GrainErrorKind.Unavailable) unreachable.Add(siloId);
        else await Task.Delay(options.RetryDelay, cancellationToken);
        await directory.TryRefreshAsync(cancellationToken);
    }

    private async Task<(string SiloId, SiloHttpClient Client)> PickAsync(List<string> unreachable, CancellationToken cancellationToken)
    {
        if (directory.Active.Count == 0) await directory.TryRefreshAsync(cancellationToken);
        var candidates = directory.Active.Where(s => !unreachable.Contains(s.SiloId)).ToArray();
        if (candidates.Length == 0)
            throw new GrainCallException(GrainErrorKind.Unavailable, "no active silo can serve this conversation now");
        string owner = RendezvousHash.Rank(userId, candidates.Select(s => s.SiloId).ToArray())[0];
        var record = candidates.First(s => s.SiloId == owner);
        return (owner, clients.For(record.Endpoint));
    }
}
