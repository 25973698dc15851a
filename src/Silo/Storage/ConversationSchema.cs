using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo.Storage;

/// <summary>The conversation store's schema (module "conversations").</summary>
public static class ConversationSchema
{
    public static SchemaModule Module { get; } = new("conversations",
    [
        new SchemaMigration(1, "conversations and turns tables", """
            CREATE TABLE conversations (
                user_id    text        PRIMARY KEY,
                version    bigint      NOT NULL CHECK (version > 0),
                updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE turns (
                user_id         text        NOT NULL REFERENCES conversations (user_id) ON DELETE CASCADE,
                turn_number     integer     NOT NULL,
                turn_id         text        NOT NULL,
                user_message    text        NOT NULL,
                assistant_reply text        NOT NULL,
                completed_at    timestamptz NOT NULL,
                PRIMARY KEY (user_id, turn_number),
                UNIQUE (user_id, turn_id));
            """),
    ]);
}
