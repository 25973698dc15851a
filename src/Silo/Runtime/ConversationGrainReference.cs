using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Qwen.Grains;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// What callers hold instead of the grain (an Orleans grain reference): each call runs as a turn
/// of the user's activation in this silo's table. Errors come back in the returned task.
/// </summary>
internal sealed class ConversationGrainReference(string userId, GrainActivationTable table) : IConversationGrain
{
    /// <summary>The turn's deadline also ends its wait behind earlier turns of the conversation.</summary>
    public async Task<ChatTurnResult> SendMessageAsync(ChatTurnRequest request, CancellationToken cancellationToken)
    {
        using var deadline = new CallDeadline(request?.Deadline, cancellationToken);
        try
        {
            return await table.Invoke(userId, (grain, ct) => grain.SendMessageAsync(request!, ct), deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (deadline.HasExpired)
        {
            throw deadline.Exceeded(TurnStage, e);
        }
    }

    public async Task<ConversationHistory> GetHistoryAsync(CancellationToken cancellationToken) =>
        await table.Invoke(userId, (grain, ct) => grain.GetHistoryAsync(ct), cancellationToken).ConfigureAwait(false);

    public async Task ResetAsync(CancellationToken cancellationToken) =>
        await table.Invoke(userId, async (grain, ct) =>
        {
            await grain.ResetAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>The turn holds the activation until the stream ends; a reader that leaves early cancels it.</summary>
    public async IAsyncEnumerable<ChatStreamEvent> StreamMessageAsync(ChatTurnRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = new CallDeadline(request?.Deadline, cancellationToken);
        var events = Channel.CreateUnbounded<ChatStreamEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var turn = table.Invoke(userId, async (grain, ct) =>
        {
            await foreach (var e in grain.StreamMessageAsync(request!, ct).ConfigureAwait(false)) events.Writer.TryWrite(e);
            return true;
        }, stop.Token);
        // Also when the turn never ran (cancelled while queued); its error is rethrown below.
        _ = turn.ContinueWith(_ => events.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false)) yield return e;
            await Expiring(turn, stop).ConfigureAwait(false);
        }
        finally
        {
            if (!turn.IsCompleted)
            {
                stop.Cancel();
                await ((Task)turn).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private const string TurnStage = "before the turn finished (waiting behind earlier turns of the conversation, or running)";

    private static async Task Expiring(Task turn, CallDeadline deadline)
    {
        try
        {
            await turn.ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (deadline.HasExpired)
        {
            throw deadline.Exceeded(TurnStage, e);
        }
    }
}
