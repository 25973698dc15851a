namespace Qwen.Api.Routing;

/// <summary>How the Api finds and calls silos (section "Routing").</summary>
public sealed record RoutingOptions
{
    public const string Section = "Routing";

    /// <summary>How often the list of live silos is re-read from the membership table.</summary>
    public TimeSpan MembershipRefresh { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Time allowed to open a connection to a silo before trying the next one.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Deadline of one call to a silo (a whole chat turn included).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Attempts per request across silos before giving up.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>Pause before retrying after every silo refused or failed.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(300);
}
