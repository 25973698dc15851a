using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// Cluster:Tls on a silo and the Api: they serve together over mutual TLS with the cluster certificate; the silo's
/// gateway speaks TLS with that certificate and refuses a peer with another certificate or none.
/// </summary>
public sealed class ClusterTlsTests : IAsyncLifetime
{
    private const string Password = "test-only-cluster-pfx";

    private string _directory = null!;
    private X509Certificate2 _certificate = null!;
    private TestCluster _cluster = null!;
    private readonly int _gatewayPort = FreePort.Next();

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("qwen-cluster-tls-").FullName;
        _certificate = SelfSignedCertificate.Create("CN=qwen-cluster");
        string pfx = await SelfSignedCertificate.WritePfxAsync(_certificate, _directory, Password);
        string[] tls = [$"--Cluster:Tls:CertificatePath={pfx}", $"--Cluster:Tls:CertificatePassword={Password}"];
        _cluster = await TestCluster.StartAsync(silos: 0, siloArguments: tls, apiArguments: tls);
        await _cluster.StartSiloAsync("s1", [$"--Cluster:GatewayPort={_gatewayPort}"]);
        await _cluster.WaitForActiveSilosAsync(["s1"], TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
        _certificate?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Silo_and_Api_serve_over_mutual_TLS_and_the_gateway_refuses_strangers()
    {
        (await _cluster.PostAsync("/v1/sentiment", new { text = "加密的集群" })).Status.Should().Be(200);
        (await _cluster.PostAsync("/v1/conversations/tls-user/messages", new { content = "你好" })).Status.Should().Be(200);

        // The gateway presents the cluster certificate to a member.
        var (presented, memberOutcome) = await HandshakeAsync(_certificate);
        presented.Should().Be(_certificate.Thumbprint);
        memberOutcome.Should().Be("open", "a member's connection stays up for Orleans' own handshake");

        // Another certificate, or none, is refused.
        using var stranger = SelfSignedCertificate.Create("CN=stranger");
        (await HandshakeAsync(stranger)).Outcome.Should().Be("refused");
        (await HandshakeAsync(null)).Outcome.Should().Be("refused");
        (await PlainBytesAsync()).Should().Be("refused", "plain TCP gets nowhere");
    }

    /// <summary>A TLS handshake with the gateway: the certificate it presented, and whether it then kept the connection or dropped it.</summary>
    private async Task<(string? Presented, string Outcome)> HandshakeAsync(X509Certificate2? clientCertificate)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _gatewayPort);
        await using var tls = new SslStream(tcp.GetStream());
        string? presented = null;
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    presented = certificate is null ? null : new X509Certificate2(certificate).Thumbprint;
                    return true;
                },
            });
            return (presented, await OutcomeAsync(tls));
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return (presented, "refused");
        }
    }

    private async Task<string> PlainBytesAsync()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _gatewayPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync("not a TLS handshake\r\n\r\n"u8.ToArray());
        return await OutcomeAsync(stream);
    }

    /// <summary>"refused" when the server closes or resets the connection within a few seconds, "open" when it waits for us.</summary>
    private static async Task<string> OutcomeAsync(Stream stream)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            int read = await stream.ReadAsync(new byte[256], wait.Token);
            return read == 0 ? "refused" : "open";
        }
        catch (OperationCanceledException)
        {
            return "open";
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return "refused";
        }
    }
}
