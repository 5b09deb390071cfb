"""The fake Bot API itself answers like Telegram: token, chat, limits, flood control."""

from __future__ import annotations

import httpx

from tests.faketelegram.fixtures import UPLOAD_LIMIT
from tests.faketelegram.server import FakeTelegram


def call(
    fake: FakeTelegram, method: str, token: str | None = None, **kwargs: object
) -> httpx.Response:
    """POST to ``/bot<token>/<method>`` on the fake."""
    url = f"{fake.url}/bot{token or fake.token}/{method}"
    return httpx.post(url, **kwargs)  # type: ignore[arg-type]


def test_wrong_token_is_401(fake_telegram: FakeTelegram) -> None:
    """A token the fake does not know gets 401 Unauthorized."""
    answer = call(fake_telegram, "sendMessage", token="1:wrong", json={"chat_id": "1", "text": "x"})
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_upload_above_the_limit_is_413(fake_telegram: FakeTelegram) -> None:
    """A document above the upload limit is refused with 413; at the limit it is accepted."""
    data = {"chat_id": fake_telegram.chat_id}
    big = {"document": ("a.bin", bytes(UPLOAD_LIMIT + 1), "application/octet-stream")}
    fits = {"document": ("a.bin", bytes(UPLOAD_LIMIT), "application/octet-stream")}
    assert call(fake_telegram, "sendDocument", data=data, files=big).status_code == 413
    answer = call(fake_telegram, "sendDocument", data=data, files=fits)
    assert answer.json()["result"]["document"]["file_size"] == UPLOAD_LIMIT


def test_rate_limit_answers_429_once(fake_telegram: FakeTelegram) -> None:
    """A scripted 429 carries parameters.retry_after, and the next call goes through."""
    fake_telegram.rate_limit(retry_after=5)
    body = {"chat_id": fake_telegram.chat_id, "text": "x"}
    first, second = (call(fake_telegram, "sendMessage", json=body) for _ in range(2))
    assert (first.status_code, first.json()["parameters"]) == (429, {"retry_after": 5})
    assert second.json()["ok"] is True


def test_unknown_chat_is_400(fake_telegram: FakeTelegram) -> None:
    """A chat id other than the fake's is "chat not found"."""
    answer = call(fake_telegram, "sendMessage", json={"chat_id": "7", "text": "x"})
    assert (answer.status_code, answer.json()["description"]) == (
        400,
        "Bad Request: chat not found",
    )
