namespace Qwen.Silo.Storage.Postgres;

/// <summary>
/// What a PostgreSQL timestamptz keeps of a time: UTC at microsecond precision. In-memory
/// stand-ins apply the same rounding so both implementations return equal values.
/// </summary>
public static class PostgresTimestamps
{
    public static DateTimeOffset Normalize(DateTimeOffset time)
    {
        DateTimeOffset utc = time.ToUniversalTime();
        return utc.AddTicks(-(utc.Ticks % 10));
    }
}
