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
        // Conversations live in their tenant's namespace; histories stored before tenants move into the default one.
        new SchemaMigration(2, "conversations keyed by tenant and user id; existing ones in tenant 'default'", """
            ALTER TABLE turns DROP CONSTRAINT turns_user_id_fkey;
            ALTER TABLE turns DROP CONSTRAINT turns_pkey;
            ALTER TABLE turns DROP CONSTRAINT turns_user_id_turn_id_key;
            ALTER TABLE conversations DROP CONSTRAINT conversations_pkey;
            ALTER TABLE conversations ADD COLUMN tenant text NOT NULL DEFAULT 'default';
            ALTER TABLE turns ADD COLUMN tenant text NOT NULL DEFAULT 'default';
            ALTER TABLE conversations ALTER COLUMN tenant DROP DEFAULT;
            ALTER TABLE turns ALTER COLUMN tenant DROP DEFAULT;
            ALTER TABLE conversations ADD PRIMARY KEY (tenant, user_id);
            ALTER TABLE turns ADD PRIMARY KEY (tenant, user_id, turn_number);
            ALTER TABLE turns ADD UNIQUE (tenant, user_id, turn_id);
            ALTER TABLE turns ADD FOREIGN KEY (tenant, user_id) REFERENCES conversations (tenant, user_id) ON DELETE CASCADE;
            """),
        // Turns stored before it read back as having no sentiment.
        new SchemaMigration(3, "turns: the user message's sentiment (label and score), null when the turn did not ask", """
            ALTER TABLE turns
                ADD COLUMN sentiment_label text NULL CHECK (sentiment_label IN ('positive', 'negative')),
                ADD COLUMN sentiment_score double precision NULL CHECK (sentiment_score BETWEEN 0 AND 1),
                ADD CONSTRAINT turns_sentiment_whole CHECK ((sentiment_label IS NULL) = (sentiment_score IS NULL));
            """),
    ]);
}
