namespace Qwen.Silo.Hosting;

/// <summary>The base URL this silo advertises in the membership table.</summary>
public sealed record SiloEndpoint(string Url)
{
    /// <summary>Silo:AdvertisedEndpoint, else the first address the server listens on (--urls / ASPNETCORE_URLS).</summary>
    public static SiloEndpoint From(IConfiguration configuration, SiloOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.AdvertisedEndpoint)) return new SiloEndpoint(options.AdvertisedEndpoint.TrimEnd('/'));
        string urls = configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? "http://127.0.0.1:5000";
        return new SiloEndpoint(urls.Split(';', StringSplitOptions.RemoveEmptyEntries)[0].TrimEnd('/'));
    }
}
