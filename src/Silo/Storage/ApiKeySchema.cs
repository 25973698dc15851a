using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo.Storage;

/// <summary>The API key table's schema (module "api_keys"): only a key's id and hash are kept, never the key.</summary>
public static class ApiKeySchema
{
    public static SchemaModule Module { get; } = new("api_keys",
    [
        new SchemaMigration(1, "api_keys table", """
            CREATE TABLE api_keys (
                key_id     text        PRIMARY KEY,
                key_hash   text        NOT NULL UNIQUE,
                tenant     text        NOT NULL,
                admin      boolean     NOT NULL,
                name       text        NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL DEFAULT now(),
                revoked_at timestamptz);
            """),
    ]);
}
