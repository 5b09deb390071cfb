"""Server text made safe to print; secrets redacted by value and by shape."""

from __future__ import annotations

from comfycine.sanitize import clean_text, one_line, redact, scrub


def test_escape_sequences_are_neutralised() -> None:
    """ANSI escapes and bells from a node's message print as visible escapes."""
    assert clean_text("bad\x1b[31mred\x07") == "bad\\x1b[31mred\\x07"
    assert clean_text("line1\nline2\ttab") == "line1\nline2\ttab"


def test_secret_values_and_shapes_are_redacted() -> None:
    """A known key value and key-shaped substrings never survive."""
    text = "X-API-Key: comfyui-abc123 url wss://h/ws?clientId=1&token=zzz9 key sk-SECRET"
    out = redact(text, ["sk-SECRET"])
    assert "comfyui-abc123" not in out and "zzz9" not in out and "sk-SECRET" not in out
    assert "clientId=1" in out


def test_telegram_token_in_url_is_redacted() -> None:
    """A bot token inside a Telegram API URL is redacted."""
    out = redact(
        "POST https://api.telegram.org/bot123456789:AAEabcdefghijklmnopqrstuvwxyz/sendMessage"
    )
    assert "AAEabcdef" not in out


def test_scrub_drops_credential_keys() -> None:
    """extra_data credential keys are dropped at any depth."""
    data = {"extra_data": {"api_key_comfy_org": "k", "client_id": "c"}, "list": [{"Token": 1}]}
    assert scrub(data) == {"extra_data": {"client_id": "c"}, "list": [{}]}


def test_websocket_error_never_echoes_the_token() -> None:
    """A refused socket's error text drops a token carried in the URL."""
    from websockets.exceptions import InvalidURI

    from comfycine.errors import ServerError
    from comfycine.transport.eventstream import map_ws_errors

    try:
        with map_ws_errors("https://cloud.test"):
            raise InvalidURI("wss://cloud.test/ws?clientId=1&token=comfyui-SECRET9", "bad")
    except ServerError as exc:
        assert "comfyui-SECRET9" not in exc.message
    else:
        raise AssertionError("no error raised")


def test_one_line_keeps_what_matters_of_a_multi_line_body() -> None:
    """A traceback gives its last line, an HTML page its title, other text is flattened."""
    traceback = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'a'\n"
    assert one_line(traceback) == "KeyError: 'a'"
    assert (
        one_line("<html><head><title>502 Bad\n Gateway</title></head></html>") == "502 Bad Gateway"
    )
    assert one_line("first\n\n   second\tthird\n") == "first second third"
    assert one_line("x" * 50, limit=10) == "x" * 9 + "…"
    assert one_line("") == ""
