namespace Qwen.Cluster.Membership;

/// <summary>A heartbeat or status change for a silo id that never registered.</summary>
public sealed class SiloNotRegisteredException(string siloId)
    : InvalidOperationException($"silo '{siloId}' is not registered in the membership table")
{
    public string SiloId { get; } = siloId;
}
