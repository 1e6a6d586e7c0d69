"""Touchpoint clients: `web` (Chromium via Playwright), `api` and `mobile` (HTTP JSON)."""
