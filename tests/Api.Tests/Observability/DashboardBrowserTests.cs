using System.Collections.ObjectModel;
using System.Globalization;
using FluentAssertions;
using OpenQA.Selenium;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Observability;

/// <summary>
/// A real browser (headless Chromium) opens /dashboard while load runs against a two-silo
/// cluster: it shows every silo, its charts' values change, a bad request shows up among the
/// recent errors. A screenshot is kept under TestResults/.
/// </summary>
[Collection(ObservedClusterCollection.Name)]
public sealed class DashboardBrowserTests(ObservedCluster fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Dashboard_shows_every_silo_live_charts_and_recent_errors_under_load()
    {
        var cluster = fixture.Cluster;
        using var load = new CancellationTokenSource();
        var traffic = RunLoadAsync(cluster.ApiUrl, users: 4, load.Token);
        using var driver = HeadlessChromium.Start();
        string screenshot = Path.Combine(RepositoryPaths.Root, "TestResults", "dashboard",
            $"dashboard-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.png");
        try
        {
            driver.Navigate().GoToUrl(cluster.ApiUrl + "/dashboard?interval=500");

            await WaitAsync(() => Texts(driver, "article.silo[data-silo-id]", "data-silo-id").Length >= 2, "the silo cards");
            Texts(driver, "article.silo", "data-silo-id").Should().BeEquivalentTo(["s1", "s2"]);
            Texts(driver, "article.silo", "class").Should().OnlyContain(c => c == "silo active", "both silos are active and reachable");
            Texts(driver, "#total-silos").Should().Equal("2 / 2");

            // The charts' own data (what uPlot draws) moves while requests flow.
            await WaitAsync(() => Distinct(driver, "throughput", 1) >= 3 && Max(driver, "throughput", 1) > 0, "changing request throughput");
            await WaitAsync(() => Distinct(driver, "latency", 1) >= 2 && Max(driver, "latency", 3) > 0, "changing latency percentiles");
            await WaitAsync(() => Max(driver, "throughput", 2) > 0, "tokens per second above zero");
            await WaitAsync(() => Max(driver, "conversations", 1) > 0, "active conversations");
            await WaitAsync(() => Texts(driver, "#tasks tbody tr[data-task]", "data-task").Order().SequenceEqual(["chat", "sentiment"]), "the per-task table");

            // A bad request appears among the recent errors, with the Api's own message.
            var (status, _) = await cluster.SendRawAsync(HttpMethod.Post, "/v1/sentiment", "{\"text\": 12}");
            status.Should().Be(400);
            await WaitAsync(() => Texts(driver, "#errors tbody tr[data-status='400']")
                .Any(row => row.Contains("/v1/sentiment", StringComparison.Ordinal) && row.Contains("must be a string", StringComparison.Ordinal)),
                "the bad request in the recent errors");

            var polls = Convert.ToInt64(Script(driver, "return window.qwenDashboard.polls;"), CultureInfo.InvariantCulture);
            var failures = Convert.ToInt64(Script(driver, "return window.qwenDashboard.failures;"), CultureInfo.InvariantCulture);
            polls.Should().BeGreaterThan(3);
            failures.Should().Be(0, "every status poll succeeded");
        }
        finally
        {
            // Taken while the load still runs (and kept when the test fails, to see why).
            Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
            ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(screenshot);
            output.WriteLine($"dashboard screenshot: {screenshot}");
            Console.WriteLine($"dashboard screenshot: {screenshot}");
            await load.CancelAsync();
            await traffic;
        }
        new FileInfo(screenshot).Length.Should().BeGreaterThan(10_000);
    }

    private static object? Script(IWebDriver driver, string script, params object[] args) => ((IJavaScriptExecutor)driver).ExecuteScript(script, args);

    /// <summary>
    /// The text (or an attribute) of every element matching <paramref name="selector"/>, read in one
    /// script: the page re-renders on every poll, so element handles would go stale between calls.
    /// </summary>
    private static string[] Texts(IWebDriver driver, string selector, string? attribute = null) =>
        Script(driver, "return Array.from(document.querySelectorAll(arguments[0])).map(e => arguments[1] ? e.getAttribute(arguments[1]) : e.innerText);",
                selector, attribute ?? "") is ReadOnlyCollection<object> values
            ? values.Select(v => v?.ToString() ?? "").ToArray()
            : [];

    /// <summary>The values of one line of a chart, as the chart holds them.</summary>
    private static double[] Line(IWebDriver driver, string chart, int line)
    {
        var values = Script(driver, $"const c = window.qwenDashboard && window.qwenDashboard.charts['{chart}']; return c ? c.data[{line}].slice() : [];");
        return values is ReadOnlyCollection<object> list ? list.Where(v => v is not null).Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray() : [];
    }

    private static int Distinct(IWebDriver driver, string chart, int line) => Line(driver, chart, line).Distinct().Count();

    private static double Max(IWebDriver driver, string chart, int line) => Line(driver, chart, line).DefaultIfEmpty(0).Max();

    private async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the dashboard did not show {what} within {Patience}");
            await Task.Delay(250);
        }
        output.WriteLine($"seen: {what}");
    }

    /// <summary>A few users sending sentiment and chat requests back to back until cancelled.</summary>
    private static Task RunLoadAsync(string apiUrl, int users, CancellationToken stop) =>
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

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
