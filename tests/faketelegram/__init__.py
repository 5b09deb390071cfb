"""A fake Telegram Bot API server (see :mod:`tests.faketelegram.server`)."""
