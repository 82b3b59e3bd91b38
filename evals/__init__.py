"""Evaluation of the AI agent's decisions on short conversations (`./run eval`)."""
