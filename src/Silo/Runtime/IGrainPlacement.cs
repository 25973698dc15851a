namespace Qwen.Silo.Runtime;

/// <summary>
/// Whether this silo owns a user's conversation grain. The cluster answers with rendezvous
/// hashing over the active silos; calls for a user owned elsewhere are refused so that one
/// activation per user exists in the cluster.
/// </summary>
public interface IGrainPlacement
{
    bool IsLocalOwner(string userId);
}
