namespace Qwen.Silo.Runtime;

/// <summary>The placement of a lone silo (the embedded default): it owns every user.</summary>
public sealed class LocalOwnerPlacement : IGrainPlacement
{
    public bool IsLocalOwner(string userId) => true;
}
