"""doorajar: a Telegram bot that helps job seekers say "no" without burning bridges."""

__version__ = "0.1.0"
