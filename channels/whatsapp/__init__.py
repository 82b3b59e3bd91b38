"""The WhatsApp channel: shard routing, inbound webhook handling, outbound sends (outbox, window, pacing)."""
