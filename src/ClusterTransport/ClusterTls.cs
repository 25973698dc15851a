using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Qwen.ClusterTransport;

/// <summary>
/// Turns on Orleans' TLS (Microsoft.Orleans.Connections.Security) for a silo or a client with the cluster certificate.
/// Both sides must present a certificate, and a peer is trusted only when it presents the cluster certificate itself
/// (or one of <see cref="ClusterTlsOptions.TrustedThumbprints"/>): a certificate that merely chains to a public CA
/// proves nothing about membership of this cluster.
/// </summary>
public static class ClusterTls
{
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo, ClusterTlsOptions options)
    {
        if (!options.Enabled) return silo;
        var certificate = Load(options);
        return silo.UseTls(certificate, tls => Configure(tls, certificate, options));
    }

    public static IClientBuilder UseClusterTls(this IClientBuilder client, ClusterTlsOptions options)
    {
        if (!options.Enabled) return client;
        var certificate = Load(options);
        return client.UseTls(certificate, tls => Configure(tls, certificate, options));
    }

    private static void Configure(TlsOptions tls, X509Certificate2 certificate, ClusterTlsOptions options)
    {
        var trusted = new HashSet<string>([certificate.Thumbprint, .. options.TrustedThumbprints.Select(t => t.Replace(":", "", StringComparison.Ordinal))],
            StringComparer.OrdinalIgnoreCase);
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.HandshakeTimeout = options.HandshakeTimeout;
        // Pinned, not chained: the certificate is usually self-signed and shared by the cluster's members.
        tls.RemoteCertificateValidation = (remote, _, _) => remote is not null && trusted.Contains(remote.Thumbprint);
    }

    private static X509Certificate2 Load(ClusterTlsOptions options)
    {
        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(options.CertificatePath!, options.CertificatePassword);
            if (!certificate.HasPrivateKey)
                throw new ClusterTlsException($"{ClusterTlsOptions.Section}: the certificate in '{options.CertificatePath}' has no private key");
            return certificate;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ClusterTlsException($"{ClusterTlsOptions.Section}: cannot load the certificate '{options.CertificatePath}': {e.Message}", e);
        }
    }
}

/// <summary>The cluster certificate cannot be used: a configuration error, reported at start in one line.</summary>
public sealed class ClusterTlsException(string message, Exception? inner = null) : Exception(message, inner);
