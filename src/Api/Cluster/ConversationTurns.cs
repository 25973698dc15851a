using System.Runtime.CompilerServices;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Cluster;

/// <summary>
/// A conversation turn sent again when it failed before any of the reply with NotOwner (the grain's
/// silo is stopping: the grain deactivates, so the next call activates it on another silo; or
/// another writer changed the conversation: the next call reads it afresh), or because Orleans
/// could not deliver it (the silo or gateway it went through was leaving). The turn id is the same,
/// so a turn is still run and stored at most once.
/// </summary>
internal static class ConversationTurns
{
    public const int MaxAttempts = 4;

    // Paused before each re-send, growing (0.25, 0.5, 0.75 s): long enough for the silos' one-second status polls to
    // mark the stopping silo, so placement does not put the conversation back on it.
    private static readonly TimeSpan ResendPause = TimeSpan.FromMilliseconds(250);

    public static async Task<ChatTurnResult> SendAsync(IConversationGrain grain, ChatTurnRequest request, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await grain.SendMessageAsync(request, cancellationToken);
            }
            catch (Exception e) when (IsWorthResending(e) && attempt < MaxAttempts)
            {
                await Task.Delay(ResendPause * attempt, cancellationToken);
            }
        }
    }

    public static async IAsyncEnumerable<ChatStreamEvent> StreamAsync(IConversationGrain grain, ChatTurnRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            await using var events = grain.StreamMessageAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            bool more;
            try
            {
                more = await events.MoveNextAsync();
            }
            catch (Exception e) when (IsWorthResending(e) && attempt < MaxAttempts)
            {
                await Task.Delay(ResendPause * attempt, cancellationToken);
                continue;
            }
            for (; more; more = await events.MoveNextAsync()) yield return events.Current;
            yield break;
        }
    }

    private static bool IsWorthResending(Exception e) =>
        e is GrainCallException { Kind: GrainErrorKind.NotOwner } || Endpoints.ApiErrors.IsSiloLost(e);
}
