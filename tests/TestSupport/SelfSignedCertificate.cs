using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Qwen.TestSupport;

/// <summary>A self-signed certificate for localhost made on the spot, and written as a password-protected .pfx file only its owner can read.</summary>
public static class SelfSignedCertificate
{
    public static X509Certificate2 Create(string subject = "CN=localhost")
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        // Server and client authentication: cluster members are both.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }

    public static async Task<string> WritePfxAsync(X509Certificate2 certificate, string directory, string password)
    {
        string path = Path.Combine(directory, $"{certificate.Thumbprint}.pfx");
        await File.WriteAllBytesAsync(path, certificate.Export(X509ContentType.Pfx, password));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
