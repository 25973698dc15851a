namespace Qwen.Cluster.Membership;

/// <summary>How <see cref="SiloStatus"/> is spelled in the silos table.</summary>
internal static class SiloStatusNames
{
    public static string ToName(SiloStatus status) => status switch
    {
        SiloStatus.Cold => "cold",
        SiloStatus.Joining => "joining",
        SiloStatus.Active => "active",
        SiloStatus.Leaving => "leaving",
        SiloStatus.Dead => "dead",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "unknown silo status"),
    };

    public static SiloStatus Parse(string name) => name switch
    {
        "cold" => SiloStatus.Cold,
        "joining" => SiloStatus.Joining,
        "active" => SiloStatus.Active,
        "leaving" => SiloStatus.Leaving,
        "dead" => SiloStatus.Dead,
        _ => throw new InvalidDataException($"unknown silo status '{name}' in the silos table"),
    };
}
