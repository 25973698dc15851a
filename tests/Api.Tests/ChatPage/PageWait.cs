using Xunit.Abstractions;

namespace Qwen.Api.Tests.ChatPage;

/// <summary>Waits for what the page shows (polled from its DOM and state), with a generous limit for a loaded 2-core host.</summary>
internal static class PageWait
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    public static async Task UntilAsync(Func<bool> condition, string what, ITestOutputHelper output)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the page did not show {what} within {Patience}");
            await Task.Delay(100);
        }
        output.WriteLine($"seen: {what}");
    }
}
