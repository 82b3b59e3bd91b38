"""The FastAPI service: CRM data, auth, and starting/signalling workflows. Never imports activities."""
