using Qwen.Cluster.Routing;
using Qwen.Grains;
using Qwen.Silo.Runtime;

namespace Qwen.Silo.Hosting;

/// <summary>
/// This silo owns a user when it ranks first by rendezvous hashing among the active silos,
/// leaving out those the caller could not reach: the same rule the Api routes by, so a dead
/// owner's users are taken over by their next silo before the owner is declared dead.
/// </summary>
public sealed class RendezvousPlacement(MembershipView view, SiloIdentity self) : IGrainPlacement
{
    public bool IsLocalOwner(string userId)
    {
        var unreachable = UnreachableSilos.Current;
        var candidates = view.ActiveSiloIds.Where(id => !unreachable.Contains(id)).Append(self.Id).Distinct();
        return RendezvousHash.Owner(userId, candidates) == self.Id;
    }
}
