"""The AI agent: settings turned into a ready agent (factory), prompt, tools, the facts guardrail, the turn loop."""
