"""Clients for the external providers Leadflow reaches over HTTP (WhatsApp today).

Contract: a provider package imports no application layer (api, worker, workflows, activities, repositories,
models); it takes an injected `httpx.AsyncClient` built once per process and leaves retries to its caller
(Temporal), raising typed errors that say whether a retry can help.
"""
