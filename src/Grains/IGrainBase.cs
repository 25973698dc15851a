namespace Qwen.Grains;

/// <summary>
/// The activation lifecycle a grain runtime drives (Orleans' IGrainBase shape): activation runs
/// before the activation's first call, deactivation after its last.
/// </summary>
public interface IGrainBase
{
    Task OnActivateAsync(CancellationToken cancellationToken);

    Task OnDeactivateAsync(CancellationToken cancellationToken);
}
