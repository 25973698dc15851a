namespace Qwen.Cli.Serving;

/// <summary>Closed-loop load: a fixed number of clients, each sending the next input as soon as its previous one is answered.</summary>
internal static class ClosedLoop
{
    /// <summary>
    /// Sends every input once, with <paramref name="concurrency"/> clients; <paramref name="newClient"/>
    /// makes one client's send function (a client may keep state, such as its conversation).
    /// </summary>
    public static Task RunAsync<TInput>(int concurrency, IReadOnlyList<TInput> inputs, Func<Func<TInput, Task>> newClient,
        CancellationToken cancellationToken)
    {
        int next = -1;
        var clients = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var send = newClient();
            int i;
            while ((i = Interlocked.Increment(ref next)) < inputs.Count) await send(inputs[i]).ConfigureAwait(false);
        }, cancellationToken)).ToArray();
        return Task.WhenAll(clients);
    }
}
