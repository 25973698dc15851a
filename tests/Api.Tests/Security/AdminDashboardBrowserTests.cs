using FluentAssertions;
using OpenQA.Selenium;
using Qwen.Api.Tests.Observability;
using Xunit;

namespace Qwen.Api.Tests.Security;

/// <summary>
/// A person opening the dashboard of an Api that checks keys: the browser is challenged for the key, given the admin key
/// as the Basic password, and the page's own calls (/v1/cluster/status) then succeed with it.
/// </summary>
public sealed class AdminDashboardBrowserTests(KeyedApi fixture) : IClassFixture<KeyedApi>
{
    [Fact]
    public async Task The_dashboard_works_in_a_browser_given_the_admin_key_as_the_password()
    {
        using var driver = HeadlessChromium.Start();
        var url = new UriBuilder(fixture.Api.Url + "/dashboard/?interval=500") { UserName = "ops", Password = KeyedApi.AdminKey }.Uri;
        driver.Navigate().GoToUrl(url);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (driver.FindElements(By.CssSelector("article.silo[data-silo-id]")).Count == 0)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the dashboard drew no silo card with the admin key; page: {driver.PageSource[..Math.Min(2000, driver.PageSource.Length)]}");
            await Task.Delay(200);
        }
        driver.FindElement(By.CssSelector("article.silo[data-silo-id]")).GetAttribute("class").Should().Contain("active");
    }
}
