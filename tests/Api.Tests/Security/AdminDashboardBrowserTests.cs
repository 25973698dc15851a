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
        // An active silo card is drawn only from a /v1/cluster/status the page fetched with the browser's key. Read in one
        // script call: the page redraws its cards on every poll, so an element found first could be gone by the next call.
        const string ActiveSiloId = "const card = document.querySelector('article.silo.active[data-silo-id]');"
            + " return card ? card.getAttribute('data-silo-id') : null;";
        string? siloId;
        while ((siloId = ((IJavaScriptExecutor)driver).ExecuteScript(ActiveSiloId) as string) is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                string page = driver.PageSource;
                throw new TimeoutException($"the dashboard drew no active silo card with the admin key; page: {page[..Math.Min(2000, page.Length)]}");
            }
            await Task.Delay(200);
        }
        siloId.Should().NotBeEmpty();
    }
}
