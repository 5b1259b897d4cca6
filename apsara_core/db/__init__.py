"""Database access: client, embedded server, schema."""
