"""Cross-cutting code: configuration, database, Redis, Temporal client, phones, queues, errors."""
