"""The Telegram front end: receiving updates (webhook, polling), the gateway, rendering, sending."""
