using Spectre.Console;

namespace Qwen.Cli.Measurement;

/// <summary>A live progress display for measurement phases: one bar per phase, its caption refreshed while it runs.</summary>
internal static class LiveProgress
{
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs <paramref name="body"/> inside a progress display (plain lines when the output is not a terminal).</summary>
    public static Task RunAsync(Func<ProgressContext, Task> body)
    {
        // A redirected console gets a fixed, wide layout so the tables are not squeezed into 80 columns.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 180);
        return AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(body);
    }

    /// <summary>
    /// Shows one phase until <paramref name="work"/> ends: <paramref name="progress"/> gives the
    /// bar's value (0..<paramref name="maxValue"/>) and <paramref name="caption"/> the live figures.
    /// </summary>
    public static async Task<T> TrackAsync<T>(ProgressContext context, double maxValue, Task<T> work, Func<double> progress, Func<string> caption)
    {
        var task = context.AddTask(Markup.Escape(caption()), maxValue: maxValue);
        while (!work.IsCompleted)
        {
            task.Value = Math.Min(progress(), maxValue);
            task.Description = Markup.Escape(caption());
            await Task.WhenAny(work, Task.Delay(Refresh)).ConfigureAwait(false);
        }
        task.Description = Markup.Escape(caption());
        task.Value = maxValue;
        task.StopTask();
        return await work.ConfigureAwait(false);
    }
}
