"""Authentication: who is calling (API key or server-side session), CSRF for cookie writes, login rate limits."""
