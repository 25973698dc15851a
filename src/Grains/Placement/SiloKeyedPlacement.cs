using Orleans.Placement;
using Orleans.Runtime;

namespace Qwen.Grains.Placement;

/// <summary>
/// Places a grain on the silo its string key names (Orleans' parsable silo address), so a caller
/// can address one particular silo. Activation fails when that silo is not in the cluster.
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.SiloKeyedPlacement")]
public sealed class SiloKeyedPlacement : PlacementStrategy
{
    public static SiloKeyedPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloKeyedPlacementAttribute() : PlacementAttribute(SiloKeyedPlacement.Instance);

/// <summary>
/// Places a grain on a silo whose model is loaded: a cold or stopping silo takes no new
/// conversations. Among those, a random one (as Orleans' default random placement).
/// </summary>
[GenerateSerializer, Immutable, Alias("qwen.WarmSiloPlacement")]
public sealed class WarmSiloPlacement : PlacementStrategy
{
    public static WarmSiloPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WarmSiloPlacementAttribute() : PlacementAttribute(WarmSiloPlacement.Instance);
