"""Channel business logic shared by the API and the activities (WhatsApp today). Uses repositories, never the API."""
