namespace Qwen.Grains;

/// <summary>
/// The id of the silo this process runs, as it appears in the membership table; results carry it
/// so a caller can tell which silo served a request. The host registers one.
/// </summary>
public sealed record SiloIdentity(string Id)
{
    /// <summary>A readable id unique to this process: host name and process id.</summary>
    public static SiloIdentity ForThisProcess() => new($"{Environment.MachineName}-{Environment.ProcessId}");
}
