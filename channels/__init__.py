"""Channel business logic shared by the API, the dispatcher and the activities (WhatsApp today; `channel.py` is the
interface a voice or SMS channel implements). Uses repositories and providers, never the API."""
