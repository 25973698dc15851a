using OpenQA.Selenium.Chrome;

namespace Qwen.Api.Tests.Observability;

/// <summary>
/// Debian's chromium driven through its chromium-driver (apt-get install chromium chromium-driver),
/// headless; both paths can be overridden with QWEN_TEST_CHROMIUM and QWEN_TEST_CHROMEDRIVER.
/// </summary>
internal static class HeadlessChromium
{
    public static string Browser => Environment.GetEnvironmentVariable("QWEN_TEST_CHROMIUM") ?? "/usr/bin/chromium";
    public static string Driver => Environment.GetEnvironmentVariable("QWEN_TEST_CHROMEDRIVER") ?? "/usr/bin/chromedriver";

    public static ChromeDriver Start()
    {
        if (!File.Exists(Browser) || !File.Exists(Driver))
        {
            throw new InvalidOperationException(
                $"the browser test needs Chromium at {Browser} and its driver at {Driver}: apt-get install chromium chromium-driver (.ci/run does)");
        }
        var options = new ChromeOptions { BinaryLocation = Browser };
        // Root in a container: no sandbox; /dev/shm may be small.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1900");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }
}
