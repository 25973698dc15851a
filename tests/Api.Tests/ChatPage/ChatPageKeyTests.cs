using FluentAssertions;
using OpenQA.Selenium;
using Qwen.Api.Tests.Observability;
using Qwen.Api.Tests.Security;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.ChatPage;

/// <summary>
/// The chat page against an Api that requires keys: the page itself loads without one, its first call's 401 brings up
/// the key form, a wrong key is refused in words, and with a valid key the history loads and a turn completes.
/// </summary>
public sealed class ChatPageKeyTests(KeyedApi keyed, ITestOutputHelper output) : IClassFixture<KeyedApi>
{
    [Fact]
    public async Task The_page_asks_for_a_key_refuses_a_wrong_one_and_works_with_a_valid_one()
    {
        using var driver = HeadlessChromium.Start();
        driver.Navigate().GoToUrl(keyed.Api.Url + "/chat/");
        var form = driver.FindElement(By.Id("key-form"));
        await WaitAsync(() => form.Displayed, "the API key form (the history call got 401)");

        driver.FindElement(By.Id("key-input")).SendKeys("not-a-key" + Keys.Enter);
        await WaitAsync(() => form.Displayed && form.Text.Contains("refused", StringComparison.Ordinal), "the wrong key refused");

        driver.FindElement(By.Id("key-input")).SendKeys(KeyedApi.AcmeKey + Keys.Enter);
        await WaitAsync(() => Events(driver).Contains("history"), "the history, loaded with the key");
        var box = driver.FindElement(By.Id("message"));
        box.SendKeys("今天天气真好" + Keys.Enter);
        await WaitAsync(() => Events(driver).Contains("done"), "the reply");

        form.Displayed.Should().BeFalse();
        ((IJavaScriptExecutor)driver).ExecuteScript("return sessionStorage.getItem('qwen-chat-api-key');").Should().Be(KeyedApi.AcmeKey);
        var (status, _, _) = await keyed.SendAsync(HttpMethod.Get, "/v1/conversations/" + UserOf(driver), KeyedApi.AcmeKey);
        status.Should().Be(200, "the turn was stored in the key's tenant");
        (await keyed.SendAsync(HttpMethod.Get, "/v1/conversations/" + UserOf(driver), KeyedApi.GlobexKey)).Status
            .Should().Be(404, "and only there");
    }

    private static string UserOf(IWebDriver driver) =>
        (string)((IJavaScriptExecutor)driver).ExecuteScript("return window.qwenChat.user;")!;

    private static string[] Events(IWebDriver driver) =>
        ((IJavaScriptExecutor)driver).ExecuteScript("return window.qwenChat ? window.qwenChat.events : [];") is IEnumerable<object> list
            ? list.Select(v => v?.ToString() ?? "").ToArray()
            : [];

    private Task WaitAsync(Func<bool> condition, string what) => PageWait.UntilAsync(condition, what, output);
}
