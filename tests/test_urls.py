"""Server URLs: checked once, their password used but never shown or stored."""

from __future__ import annotations

import pytest

from comfycine.sanitize import redact
from comfycine.urls import (
    bare_url,
    basic_authorization,
    check_url,
    credentials,
    origin,
    shown_url,
    url_passwords,
    with_credentials,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://me:hunter2@pc:8188", "http://me:***@pc:8188"),
        ("http://me:p%40ss@pc:8188/x", "http://me:***@pc:8188/x"),
        ("http://me:p@ss@pc:8188", "http://me:***@pc:8188"),
        ("http://pc:8188", "http://pc:8188"),
        ("http://me@pc:8188", "http://me@pc:8188"),
        ("http://me:pw@[::1:8188", "http://me:***@[::1:8188"),
        ("not a url", "not a url"),
    ],
)
def test_shown_url_masks_the_password(url: str, shown: str) -> None:
    """The URL as printed keeps the user and masks the password, for any text."""
    assert shown_url(url) == shown


def test_bare_url_and_credentials_split_the_userinfo() -> None:
    """The stored URL has no userinfo; the credentials are percent-decoded."""
    url = "http://me:p%40ss@[fd7a::1]:8188/comfy"
    assert bare_url(url) == "http://[fd7a::1]:8188/comfy"
    assert credentials(url) == ("me", "p@ss")
    assert credentials("http://pc:8188") is None
    assert with_credentials("http://[fd7a::1]:8188/comfy", ("me", "p@ss")) == url
    assert with_credentials("http://old:x@pc:1", None) == "http://pc:1"


def test_basic_authorization_is_the_rfc_7617_header() -> None:
    """user:password, base64-encoded after "Basic "."""
    assert basic_authorization(("Aladdin", "open sesame")) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_origin_fills_the_default_port() -> None:
    """Scheme, lower-case host and port (80/443 when absent); None when unparsable."""
    assert origin("HTTP://PC") == ("http", "pc", 80)
    assert origin("https://me:x@pc") == ("https", "pc", 443)
    assert origin("http://pc:99999") is None


def test_url_passwords_finds_every_form() -> None:
    """Passwords of one URL or a name=url list, raw and decoded."""
    text = "a=http://me:one1@h:1,b=https://x:tw%2Fo@k"
    assert {"one1", "tw%2Fo", "tw/o"} <= set(url_passwords(text))
    assert url_passwords("http://pc:8188") == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://pc", "must start with http:// or https://"),
        ("pc:8188", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("http://:8188", "has no host name"),
        ("http://p c:8188", "must not contain spaces"),
        ("http://pc:99999", "port 99999 is not a number from 1 to 65535"),
        ("http://pc:0", "port 0 is not a number from 1 to 65535"),
        ("http://pc:8x", "port 8x is not a number from 1 to 65535"),
        ("http://[::1:8188", "malformed IPv6 address"),
        ("http://[nope]:8188", "malformed IPv6 address"),
    ],
)
def test_check_url_says_what_is_wrong(url: str, why: str) -> None:
    """Each unusable URL raises ValueError with the reason (never a crash elsewhere)."""
    with pytest.raises(ValueError, match=why):
        check_url(url)


def test_check_url_keeps_good_urls() -> None:
    """Spaces around and a trailing slash go; IPv6 and userinfo stay."""
    assert check_url("  http://me:pw@[::1]:8188/ ") == "http://me:pw@[::1]:8188"


def test_redaction_masks_url_passwords_by_shape() -> None:
    """Any scheme://user:password@ in printed text loses its password, JSON intact."""
    text = '{"url": "http://me:hunter2@pc:8188", "mail": "a@b"} see https://u:x%40y@h/z'
    assert redact(text) == '{"url": "http://me:***@pc:8188", "mail": "a@b"} see https://u:***@h/z'
