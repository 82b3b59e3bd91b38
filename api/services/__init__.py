"""Domain services behind the HTTP routes: keyword-only functions that use repositories and never commit."""
