"""The WhatsApp channel: shard routing, webhooks verified into the inbox, inbox events handled, outbound sends."""
