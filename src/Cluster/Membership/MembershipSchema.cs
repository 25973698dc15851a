using Qwen.Cluster.Schema;

namespace Qwen.Cluster.Membership;

/// <summary>The membership table's schema (module "membership").</summary>
public static class MembershipSchema
{
    public static SchemaModule Module { get; } = new("membership",
    [
        new SchemaMigration(1, "silos table", """
            CREATE TABLE silos (
                silo_id              text             PRIMARY KEY,
                endpoint             text             NOT NULL,
                status               text             NOT NULL CHECK (status IN ('joining', 'active', 'leaving', 'dead')),
                queue_length         integer          NOT NULL,
                active_requests      integer          NOT NULL,
                active_conversations integer          NOT NULL,
                tokens_per_second    double precision NOT NULL,
                model_loaded         boolean          NOT NULL,
                started_at           timestamptz      NOT NULL,
                last_heartbeat       timestamptz      NOT NULL);
            """),
        new SchemaMigration(2, "cold silos", """
            ALTER TABLE silos DROP CONSTRAINT silos_status_check;
            ALTER TABLE silos ADD CONSTRAINT silos_status_check CHECK (status IN ('cold', 'joining', 'active', 'leaving', 'dead'));
            """),
    ]);
}
