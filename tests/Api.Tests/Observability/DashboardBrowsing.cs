using System.Collections.ObjectModel;
using System.Globalization;
using FluentAssertions;
using OpenQA.Selenium;
using Qwen.TestSupport;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Observability;

/// <summary>
/// What a person sees in headless Chromium on the Api's two dashboards, checked from the page's own state: the product
/// dashboard (/dashboard) under load, and the Orleans Dashboard (/orleans-dashboard/). Shared by the embedded and the
/// clustered browser tests. A screenshot of each page is kept under TestResults/dashboard/.
/// </summary>
internal sealed class DashboardBrowsing(string apiUrl, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>Opens both dashboards while a few users send sentiment and chat requests.</summary>
    public async Task CheckBothDashboardsAsync(string[] silos, Func<Task<int>> sendBadSentiment)
    {
        using var load = new CancellationTokenSource();
        var traffic = RunLoadAsync(users: 4, load.Token);
        using var driver = HeadlessChromium.Start();
        try
        {
            await CheckProductDashboardAsync(driver, silos, sendBadSentiment);
            await CheckOrleansDashboardAsync(driver, silos.Length);
        }
        finally
        {
            await load.CancelAsync();
            await traffic;
        }
    }

    private async Task CheckProductDashboardAsync(IWebDriver driver, string[] silos, Func<Task<int>> sendBadSentiment)
    {
        try
        {
            driver.Navigate().GoToUrl(apiUrl + "/dashboard?interval=500");

            await WaitAsync(() => Texts(driver, "article.silo[data-silo-id]", "data-silo-id").Length >= silos.Length, "the silo cards");
            Texts(driver, "article.silo", "data-silo-id").Should().BeEquivalentTo(silos);
            Texts(driver, "article.silo", "class").Should().OnlyContain(c => c == "silo active", "every silo is active and reachable");
            Texts(driver, "#total-silos").Should().Equal($"{silos.Length} / {silos.Length}");
            await WaitAsync(() => Texts(driver, "article.silo dd[data-field='Conversations']").Any(t => t != "0"), "a silo card's conversations");

            // Requests/s and errors/s on one scale, tokens/s on another with its own axis.
            Script(driver, "return window.qwenDashboard.charts.throughput.series.map(s => s.label || '').join('|');")
                .Should().Be("Time|requests/s|errors/s|tokens/s");
            Script(driver, "return window.qwenDashboard.charts.throughput.series.slice(1).map(s => s.scale).join('|');")
                .Should().Be("rps|rps|tps");
            Script(driver, "return window.qwenDashboard.charts.throughput.axes.slice(1).map(a => a.scale + '@' + a.side).join('|');")
                .Should().Be("rps@3|tps@1", "tokens/s has its own axis, on the right");

            // The charts' own data (what uPlot draws) moves while requests flow.
            await WaitAsync(() => Line(driver, "throughput", 1).Distinct().Count() >= 3 && Max(driver, "throughput", 1) > 0,
                "changing request throughput");
            await WaitAsync(() => Max(driver, "throughput", 3) > 0, "tokens per second above zero");
            await WaitAsync(() => Max(driver, "conversations", 1) > 0, "active conversations");

            // Latency per task: a p50 and a p90 line for each task, with values.
            await WaitAsync(() => LatencyLine(driver, "chat p50").Any(v => v > 0) && LatencyLine(driver, "sentiment p50").Any(v => v > 0),
                "per-task latency lines for chat and sentiment");
            Script(driver, "return window.qwenDashboard.charts.latency.series.slice(1).map(s => s.label).join('|');")!.ToString()!
                .Split('|').Should().Contain(["chat p50", "chat p90", "sentiment p50", "sentiment p90"]).And.NotContain("p50");
            await WaitAsync(() => Texts(driver, "#tasks tbody tr[data-task]", "data-task").Order().SequenceEqual(["chat", "sentiment"]),
                "the per-task table");

            // A bad request appears among the recent errors, with the Api's own message.
            (await sendBadSentiment()).Should().Be(400);
            await WaitAsync(() => Texts(driver, "#errors tbody tr[data-status='400']")
                .Any(row => row.Contains("/v1/sentiment", StringComparison.Ordinal) && row.Contains("must be a string", StringComparison.Ordinal)),
                "the bad request in the recent errors");

            Convert.ToInt64(Script(driver, "return window.qwenDashboard.polls;"), CultureInfo.InvariantCulture).Should().BeGreaterThan(3);
            Convert.ToInt64(Script(driver, "return window.qwenDashboard.failures;"), CultureInfo.InvariantCulture)
                .Should().Be(0, "every poll succeeded");
        }
        finally
        {
            Screenshot(driver, "dashboard");
        }
    }

    private async Task CheckOrleansDashboardAsync(IWebDriver driver, int silos)
    {
        try
        {
            // The link on the product dashboard leads there.
            Texts(driver, "a#orleans-dashboard", "href").Should().ContainSingle().Which.Should().EndWith("/orleans-dashboard/");
            driver.Navigate().GoToUrl(apiUrl + "/orleans-dashboard/");
            await WaitAsync(() => InfoBox(driver, "Active Silos") == silos.ToString(CultureInfo.InvariantCulture),
                "the Orleans Dashboard's silo count");
            await WaitAsync(() => double.TryParse(InfoBox(driver, "Total Activations"), CultureInfo.InvariantCulture, out double n) && n > 0,
                "grain activations on the Orleans Dashboard");

            driver.Navigate().GoToUrl(apiUrl + "/orleans-dashboard/#/silos");
            await WaitAsync(() => Texts(driver, "a[href^='#/host/']").Distinct().Count() >= silos, "a row per silo on the Orleans Dashboard");

            driver.Navigate().GoToUrl(apiUrl + "/orleans-dashboard/#/grains");
            await WaitAsync(() => Texts(driver, "body").Any(t => t.Contains("ConversationGrain", StringComparison.Ordinal)),
                "the conversation grains among the Orleans Dashboard's grain types");
        }
        finally
        {
            Screenshot(driver, "orleans-dashboard");
        }
    }

    /// <summary>
    /// The number of the Orleans Dashboard's counter widget titled <paramref name="title"/>, or null (textContent, not innerText:
    /// the page's style upper-cases the titles).
    /// </summary>
    private static string? InfoBox(IWebDriver driver, string title) => Script(driver,
        "const box = Array.from(document.querySelectorAll('.info-box-content'))" +
        "  .find(b => b.querySelector('.info-box-text')?.textContent.trim() === arguments[0]);" +
        " return box ? box.querySelector('.info-box-number').textContent.trim() : null;", title) as string;

    private void Screenshot(IWebDriver driver, string page)
    {
        string path = Path.Combine(RepositoryPaths.Root, "TestResults", "dashboard",
            $"{page}-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        output.WriteLine($"{page} screenshot: {path}");
    }

    private static object? Script(IWebDriver driver, string script, params object[] args) =>
        ((IJavaScriptExecutor)driver).ExecuteScript(script, args);

    /// <summary>
    /// The text (or an attribute) of every element matching <paramref name="selector"/>, read in one
    /// script: the page re-renders on every poll, so element handles would go stale between calls.
    /// </summary>
    private static string[] Texts(IWebDriver driver, string selector, string? attribute = null) =>
        Script(driver,
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => arguments[1] ? e.getAttribute(arguments[1]) : e.innerText);",
                selector, attribute ?? "") is ReadOnlyCollection<object> values
            ? values.Select(v => v?.ToString() ?? "").ToArray()
            : [];

    /// <summary>The values of one line of a chart, as the chart holds them (gaps left out).</summary>
    private static double[] Line(IWebDriver driver, string chart, int line) => Numbers(Script(driver,
        $"const c = window.qwenDashboard && window.qwenDashboard.charts['{chart}']; return c && c.data[{line}] ? c.data[{line}].slice() : [];"));

    private static double[] LatencyLine(IWebDriver driver, string label) => Numbers(Script(driver,
        "const c = window.qwenDashboard && window.qwenDashboard.charts.latency; if (!c) return [];" +
        " const i = c.series.findIndex(s => s.label === arguments[0]); return i > 0 && c.data[i] ? c.data[i].slice() : [];", label));

    private static double[] Numbers(object? values) => values is ReadOnlyCollection<object> list
        ? list.Where(v => v is not null).Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray()
        : [];

    private static double Max(IWebDriver driver, string chart, int line) => Line(driver, chart, line).DefaultIfEmpty(0).Max();

    // Polls the page's state (the event we wait for) with one generous deadline.
    private async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the page did not show {what} within {Patience}");
            await Task.Delay(250);
        }
        output.WriteLine($"seen: {what}");
    }

    /// <summary>A few users sending sentiment and chat requests back to back until cancelled.</summary>
    private Task RunLoadAsync(int users, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, users).Select(async user =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(apiUrl), Timeout = TimeSpan.FromSeconds(60) };
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var response = i % 2 == 0
                        ? await http.PostAsync("/v1/sentiment", Json($"{{\"text\":\"load sentence {user}-{i}\"}}"), stop)
                        : await http.PostAsync($"/v1/conversations/dash-user-{user}/messages", Json($"{{\"content\":\"message {i}\"}}"), stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                // Pauses that vary make the rates move from one poll to the next.
                await Task.Delay(50 + 40 * (i % 5), CancellationToken.None);
            }
        }));

    public static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
