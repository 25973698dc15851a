using Orleans.Runtime.Placement;

namespace Qwen.Silo.Placement;

/// <summary>
/// Activates a <c>[WarmSiloPlacement]</c> grain (a conversation) on a random silo whose model is
/// loaded, so a cold silo gets no conversations until it is warmed up. When no silo is known to be
/// warm yet (the first seconds of a cluster) any compatible silo is taken, as random placement would.
/// </summary>
internal sealed class WarmSiloPlacementDirector(WarmSilos warm) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        SiloAddress[] compatible = context.GetCompatibleSilos(target);
        SiloAddress[] candidates = [.. compatible.Where(warm.IsWarm)];
        if (candidates.Length == 0) candidates = compatible;
        return Task.FromResult(candidates[Random.Shared.Next(candidates.Length)]);
    }
}
