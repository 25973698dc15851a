using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// The public Api over TLS with Kestrel's own certificate settings, as docs/operations.md shows them: an
/// https:// URL in ASPNETCORE_URLS (here --urls) and the certificate file and its password in the environment
/// (Kestrel__Certificates__Default__Path/Password), never on the command line. The certificate is a
/// self-signed one made for the test; the client trusts exactly it.
/// </summary>
public sealed class HttpsTests : IAsyncLifetime
{
    private const string Password = "test-only-pfx-password";

    private string _directory = null!;
    private X509Certificate2 _certificate = null!;
    private EmbeddedApi _api = null!;
    private int _httpsPort;

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("qwen-api-tls-").FullName;
        _certificate = SelfSignedCertificate.Create();
        string pfx = await SelfSignedCertificate.WritePfxAsync(_certificate, _directory, Password);
        int httpPort = FreePort.Next();
        _httpsPort = FreePort.Next();
        _api = await EmbeddedApi.StartAsync(httpPort,
            new Dictionary<string, string>
            {
                ["Kestrel__Certificates__Default__Path"] = pfx,
                ["Kestrel__Certificates__Default__Password"] = Password,
            },
            $"--urls=http://127.0.0.1:{httpPort};https://127.0.0.1:{_httpsPort}");
    }

    public async Task DisposeAsync()
    {
        if (_api is not null) await _api.DisposeAsync();
        _certificate?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_Api_answers_over_https_with_the_configured_certificate()
    {
        X509Certificate2? presented = null;
        using var handler = new HttpClientHandler
        {
            // Trust exactly the test's certificate (it is self-signed, so no chain would vouch for it).
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                presented = certificate is null ? null : new X509Certificate2(certificate);
                return certificate?.Thumbprint == _certificate.Thumbprint;
            },
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{_httpsPort}"), Timeout = TimeSpan.FromSeconds(60) };

        using var response = await https.PostAsJsonAsync("/v1/sentiment", new { text = "加密的连接" });
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        presented!.Thumbprint.Should().Be(_certificate.Thumbprint);
        (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("label").GetString().Should().BeOneOf("positive", "negative");

        // A client that does not trust the certificate cannot talk to it at all.
        using var strict = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await strict.Invoking(c => c.GetAsync($"https://localhost:{_httpsPort}/healthz")).Should().ThrowAsync<HttpRequestException>();
        _api.Process.RecentOutput.Should().NotContain(Password, "the certificate's password stays out of the log");
    }
}
