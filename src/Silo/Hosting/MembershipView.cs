namespace Qwen.Silo.Hosting;

/// <summary>This silo's latest reading of which silos are active, refreshed with each heartbeat.</summary>
public sealed class MembershipView
{
    private volatile IReadOnlyList<string> _activeSiloIds = [];

    public IReadOnlyList<string> ActiveSiloIds => _activeSiloIds;

    public void Update(IReadOnlyList<string> activeSiloIds) => _activeSiloIds = activeSiloIds;
}
