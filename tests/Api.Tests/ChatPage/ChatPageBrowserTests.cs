using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;
using FluentAssertions;
using OpenQA.Selenium;
using Qwen.Api.Tests.Observability;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.ChatPage;

/// <summary>
/// The chat page in headless Chromium against the embedded Api: a typed message gets its sentiment
/// badge before the first reply token, the reply completes, a reload shows the history, "new
/// conversation" starts an empty one; a 429 is shown in words with its retry time. A screenshot
/// of the page is kept as TestResults/chat/chat-page.png.
/// </summary>
public sealed class ChatPageBrowserTests(Observability.EmbeddedApi api, ITestOutputHelper output) : IClassFixture<Observability.EmbeddedApi>
{
    // Records, from the page's DOM itself, the order in which the newest message's badge and its reply's first text appear.
    private const string WatchOrder = """
        window.seenOrder = [];
        new MutationObserver(() => {
          const users = document.querySelectorAll('.message.user');
          const last = users[users.length - 1];
          if (last && last.querySelector('.badge[data-label]') && !window.seenOrder.includes('badge')) window.seenOrder.push('badge');
          const reply = last && last.nextElementSibling;
          if (reply && reply.querySelector('.text').textContent.length > 0 && !window.seenOrder.includes('token')) window.seenOrder.push('token');
        }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true, attributes: true });
        """;

    [Fact]
    public async Task A_message_shows_its_sentiment_badge_first_then_the_streamed_reply_and_a_reload_shows_the_history()
    {
        using var driver = HeadlessChromium.Start();
        try
        {
            driver.Navigate().GoToUrl(api.Url + "/");
            driver.Url.Should().EndWith("/chat/", "/ redirects to the chat page");
            await WaitAsync(() => Events(driver).Contains("history"), "the (empty) history loaded");
            string user = (string)Script(driver, "return window.qwenChat.user;")!;
            user.Should().StartWith("web-");
            driver.FindElement(By.Id("key-form")).Displayed.Should().BeFalse("no key is asked while the Api does not want one");
            driver.FindElement(By.Id("status")).Displayed.Should().BeFalse("nothing failed");

            string[] sent = ["会议推迟了，真扫兴", "今天真开心"];
            for (int i = 0; i < sent.Length; i++)
            {
                Script(driver, WatchOrder);
                var box = driver.FindElement(By.Id("message"));
                box.SendKeys(sent[i]);
                box.SendKeys(Keys.Enter);
                await WaitAsync(() => Count(driver, ".message.assistant[data-state='done']") == i + 1, $"reply {i + 1} complete");
                Strings(Script(driver, "return window.seenOrder;"))
                    .Should().Equal(["badge", "token"], "the badge appears before the first reply token");
            }
            Events(driver).Should().Equal("history", "sentiment", "first-token", "done", "sentiment", "first-token", "done");

            // What the page shows is what the server stored.
            var history = await HistoryAsync(user);
            Texts(driver, ".message.user .text").Should().Equal(sent);
            var badges = Texts(driver, ".message.user .badge", "data-label");
            badges.Should().Equal(history.Where(m => m.Role == "user").Select(m => m.Label));
            badges.Should().OnlyContain(l => l == "positive" || l == "negative");
            Texts(driver, ".message.user .badge").Should().OnlyContain(t => (t.Contains("正面") || t.Contains("负面")) && t.EndsWith('%'));
            Texts(driver, ".message.assistant .text").Should().Equal(history.Where(m => m.Role == "assistant").Select(m => m.Content));

            // A reload shows the same conversation, read back from the server.
            driver.Navigate().Refresh();
            await WaitAsync(() => Events(driver).Contains("history"), "the history after a reload");
            Script(driver, "return window.qwenChat.user;").Should().Be(user, "the user id is kept in local storage");
            Texts(driver, ".message.user .text").Should().Equal(sent);
            Texts(driver, ".message.user .badge", "data-label").Should().Equal(badges);
            Texts(driver, ".message.assistant .text").Should().Equal(history.Where(m => m.Role == "assistant").Select(m => m.Content));
            Screenshot(driver, "chat-page");

            // A new conversation starts empty under a new user id, and stays so after a reload.
            driver.FindElement(By.Id("new-conversation")).Click();
            string fresh = (string)Script(driver, "return window.qwenChat.user;")!;
            fresh.Should().NotBe(user);
            Count(driver, ".message").Should().Be(0);
            driver.Navigate().Refresh();
            await WaitAsync(() => Events(driver).Contains("history"), "the new conversation's history");
            Script(driver, "return window.qwenChat.user;").Should().Be(fresh);
            Count(driver, ".message").Should().Be(0);
        }
        catch
        {
            Screenshot(driver, "chat-page-failed");
            throw;
        }
    }

    [Fact]
    public async Task A_refused_message_is_explained_in_words_with_the_retry_time()
    {
        // A burst of two requests and then one per minute: the page's history read and the first message pass, the second is refused.
        await using var limited = await PublicApi.EmbeddedApi.StartAsync(
            "--RateLimit:TokenLimit=2", "--RateLimit:TokensPerPeriod=1", "--RateLimit:ReplenishmentPeriod=00:01:00");
        using var driver = HeadlessChromium.Start();
        driver.Navigate().GoToUrl(limited.Url + "/chat");
        await WaitAsync(() => Events(driver).Contains("history"), "the history loaded");
        var box = driver.FindElement(By.Id("message"));
        box.SendKeys("你好");
        box.SendKeys(Keys.Enter);
        await WaitAsync(() => Events(driver).Contains("done"), "the first reply");
        box.SendKeys("还在吗？");
        box.SendKeys(Keys.Enter);
        await WaitAsync(() => Script(driver, "return window.qwenChat.lastError;") is string, "the refusal");

        string shown = driver.FindElement(By.Id("status")).Text;
        output.WriteLine(shown);
        shown.Should().Contain("Too many requests (429)").And.MatchRegex(@"wait \d+ s");
        driver.FindElement(By.Id("send")).Enabled.Should().BeTrue("the page carries on");
        Count(driver, ".message.user .badge.pending").Should().Be(0, "no badge waits for a refused message");
    }

    /// <summary>
    /// Answers the keyless embedded Api cannot give on demand (it has no store to take down) are put in front of the
    /// page's fetch: a 401 until the page sends the key, a 503 from a store outage, and a stream that stops after its
    /// first delta. Everything else goes to the real Api. ChatPageKeyTests runs the key path against real keys.
    /// </summary>
    [Fact]
    public async Task A_401_asks_for_a_key_once_and_sends_it_as_bearer_and_a_503_or_a_dropped_stream_is_explained()
    {
        using var driver = HeadlessChromium.Start();
        driver.Navigate().GoToUrl(api.Url + "/chat/");
        await WaitAsync(() => Events(driver).Contains("history"), "the history loaded");
        Script(driver, """
            window.seenAuth = [];
            window.answer = 'real';
            const real = window.fetch;
            window.fetch = (url, init) => {
              const auth = (init && init.headers && init.headers['Authorization']) || null;
              window.seenAuth.push(auth);
              const json = (status, body) => Promise.resolve(new Response(JSON.stringify(body),
                { status, headers: { 'Content-Type': 'application/problem+json' } }));
              if (auth !== 'Bearer key-15') return json(401, { status: 401, detail: 'an API key is required' });
              if (window.answer === '503') return json(503, { status: 503, detail: 'conversation storage is unavailable: connection refused' });
              if (window.answer === 'drop') {
                const text = 'data: {"type":"sentiment","sentiment":{"label":"positive","score":0.9}}\n\ndata: {"type":"delta","text":"半"}\n\n';
                return Promise.resolve(new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(text)); c.close(); } }),
                  { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
              }
              return real(url, init);
            };
            """);

        var box = driver.FindElement(By.Id("message"));
        box.SendKeys("你好");
        box.SendKeys(Keys.Enter);
        await WaitAsync(() => driver.FindElement(By.Id("key-form")).Displayed, "the API key form");
        driver.FindElement(By.Id("key-input")).SendKeys("key-15");
        driver.FindElement(By.Id("key-input")).SendKeys(Keys.Enter);
        await WaitAsync(() => Events(driver).Contains("done"), "the reply once the key was sent");
        Strings(Script(driver, "return window.seenAuth;")).Should().Equal(["", "Bearer key-15"], "asked once, then sent as a bearer token");
        Script(driver, "return sessionStorage.getItem('qwen-chat-api-key');").Should().Be("key-15");
        Script(driver, "return localStorage.getItem('qwen-chat-api-key');").Should().BeNull("the key is kept for this tab only");
        driver.FindElement(By.Id("key-form")).Displayed.Should().BeFalse();

        Script(driver, "window.answer = '503';");
        box.SendKeys("还在吗");
        box.SendKeys(Keys.Enter);
        await WaitAsync(() => Script(driver, "return window.qwenChat.lastError;") is string, "the 503");
        driver.FindElement(By.Id("status")).Text.Should().Contain("unavailable right now (503)").And.Contain("conversation storage is unavailable");

        Script(driver, "window.answer = 'drop';");
        box.SendKeys("再来一次");
        box.SendKeys(Keys.Enter);
        await WaitAsync(() => Events(driver).Contains("dropped"), "the dropped stream");
        driver.FindElement(By.Id("status")).Text.Should().Contain("connection dropped before the reply finished");
        Texts(driver, ".message.assistant", "data-state").Last().Should().Be("failed");
        Texts(driver, ".message.assistant .text").Last().Should().Be("半", "the part that arrived stays, marked incomplete");
        driver.FindElement(By.Id("send")).Enabled.Should().BeTrue("the page carries on");

        // The key outlives a reload of the tab.
        driver.Navigate().Refresh();
        await WaitAsync(() => Events(driver).Contains("history"), "the history after a reload");
        Script(driver, "return sessionStorage.getItem('qwen-chat-api-key');").Should().Be("key-15");
    }

    private sealed record HistoryMessage(string Role, string Content, string? Label);

    private async Task<List<HistoryMessage>> HistoryAsync(string user)
    {
        using var http = new HttpClient { BaseAddress = new Uri(api.Url) };
        var body = JsonDocument.Parse(await http.GetStringAsync($"/v1/conversations/{user}")).RootElement;
        return body.GetProperty("messages").EnumerateArray().Select(m => new HistoryMessage(m.GetProperty("role").GetString()!,
            m.GetProperty("content").GetString()!,
            m.TryGetProperty("sentiment", out var s) ? s.GetProperty("label").GetString() : null)).ToList();
    }

    private void Screenshot(IWebDriver driver, string name)
    {
        string path = Path.Combine(RepositoryPaths.Root, "TestResults", "chat", name + ".png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        output.WriteLine($"{name} screenshot: {path}");
    }

    private static object? Script(IWebDriver driver, string script, params object[] args) =>
        ((IJavaScriptExecutor)driver).ExecuteScript(script, args);

    private static string[] Events(IWebDriver driver) => Strings(Script(driver, "return window.qwenChat ? window.qwenChat.events : [];"));

    private static string[] Strings(object? values) =>
        values is ReadOnlyCollection<object> list ? list.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "").ToArray() : [];

    private static long Count(IWebDriver driver, string selector) =>
        Convert.ToInt64(Script(driver, "return document.querySelectorAll(arguments[0]).length;", selector), CultureInfo.InvariantCulture);

    private static string[] Texts(IWebDriver driver, string selector, string? attribute = null) => Strings(Script(driver,
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => arguments[1] ? e.getAttribute(arguments[1]) : e.textContent);",
        selector, attribute ?? ""));

    // Polls the page's own state (the event we wait for) with one generous deadline.
    private Task WaitAsync(Func<bool> condition, string what) => PageWait.UntilAsync(condition, what, output);
}
