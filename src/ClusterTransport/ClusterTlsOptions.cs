namespace Qwen.ClusterTransport;

/// <summary>
/// Mutual TLS on the cluster's own connections, silo to silo and Api to silo gateway (section "Cluster:Tls", read by
/// silos and the Api alike). Off unless <see cref="CertificatePath"/> is set; then every member must have it on.
/// </summary>
public sealed record ClusterTlsOptions
{
    public const string Section = "Cluster:Tls";

    /// <summary>The cluster certificate with its private key, a PKCS#12 (.pfx) file readable by the service user only.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>The .pfx file's password; from an env file (<c>Cluster__Tls__CertificatePassword</c>), never the command line.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>
    /// More certificates a peer may present (SHA-1 thumbprints, hex), beside this member's own: during a certificate
    /// change, list the other one on every member first.
    /// </summary>
    public string[] TrustedThumbprints { get; init; } = [];

    /// <summary>How long a TLS handshake may take.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);
}
