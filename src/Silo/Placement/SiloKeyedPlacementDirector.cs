using Orleans.Runtime.Placement;
using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Placement;

/// <summary>Activates a <c>[SiloKeyedPlacement]</c> grain on the silo its key names, or fails the call when that silo is gone.</summary>
internal sealed class SiloKeyedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string key = target.GrainIdentity.Key.ToString()!;
        SiloAddress silo;
        try
        {
            silo = SiloAddress.FromParsableString(key);
        }
        catch (FormatException e)
        {
            throw new GrainCallException(GrainErrorKind.InvalidRequest, $"'{key}' is not a silo address", e);
        }
        if (!context.GetCompatibleSilos(target).Contains(silo))
            throw new GrainCallException(GrainErrorKind.Unavailable, $"silo {key} is not an active member of the cluster");
        return Task.FromResult(silo);
    }
}
