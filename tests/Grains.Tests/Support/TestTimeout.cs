namespace Qwen.Grains.Tests.Support;

internal static class TestTimeout
{
    /// <summary>A token that ends a stuck test instead of hanging the run.</summary>
    public static CancellationToken Token => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    /// <summary>Polls until <paramref name="condition"/> holds; fails after <paramref name="limit"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
