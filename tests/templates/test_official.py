"""The official templates a server ships: its index, one template, and where they came from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from comfycine.errors import ExitCode, ServerError, TemplateNotFound, UsageError
from comfycine.templates.official import (
    OfficialTemplate,
    fetch_official,
    find_official,
    list_official,
    official_meta,
    parse_index,
    templates_version,
)
from comfycine.transport import ComfyClient

OFFICIAL = Path(__file__).parent.parent / "fixtures" / "official"
INDEX = json.loads((OFFICIAL / "index.json").read_text())
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler) -> ComfyClient:
    """A client whose requests go to ``handler``."""
    return ComfyClient("http://comfy.test:8188", transport=httpx.MockTransport(handler))


def serve_fixtures(seen: list[str]) -> Handler:
    """A server that has the fixture index and templates, and the templates version."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        path = request.url.path
        if path == "/system_stats":
            return httpx.Response(200, json={"system": {"installed_templates_version": "0.7.25"}})
        file = OFFICIAL / path.removeprefix("/templates/")
        if path.startswith("/templates/") and file.is_file():
            return httpx.Response(200, content=file.read_bytes())
        return httpx.Response(404, text="Not Found")

    return handler


def test_index_entries_keep_title_media_models_and_partner_mark() -> None:
    """The fixture index gives four templates; the Kling one is a partner template."""
    templates = {t.name: t for t in parse_index(INDEX)}
    assert set(templates) == {
        "default",
        "video_wan2_2_14B_t2v",
        "ltxv_text_to_video",
        "api_kling_flf",
    }
    wan = templates["video_wan2_2_14B_t2v"]
    assert (wan.title, wan.media_type, wan.partner) == ("Wan 2.2 14B Text to Video", "video", False)
    assert wan.models == ("Wan2.2", "Wan")
    assert wan.category == "GENERATION TYPE / Video"
    assert templates["api_kling_flf"].partner
    assert (
        templates["default"].tutorial_url == "https://docs.comfy.org/tutorials/basic/text-to-image"
    )


def test_malformed_index_parts_are_skipped() -> None:
    """Entries without a name, non-list categories and repeated names are left out."""
    data = [
        {"title": "A", "templates": [{"name": "x"}, {"title": "no name"}, "junk", {"name": "x"}]},
        {"title": "B", "templates": "not a list"},
        "junk",
    ]
    assert [t.name for t in parse_index(data)] == ["x"]
    assert parse_index({"not": "a list"}) == []


async def test_a_server_without_templates_says_so() -> None:
    """A 404 for the index is no_official_templates, a usage error (exit 2)."""
    async with make_client(lambda r: httpx.Response(404, text="Not Found")) as client:
        with pytest.raises(UsageError) as caught:
            await list_official(client)
    assert caught.value.code == "no_official_templates"
    assert caught.value.exit_code == ExitCode.USAGE


def test_names_match_without_case_or_json_suffix() -> None:
    """DEFAULT and default.json both name the template default."""
    templates = parse_index(INDEX)
    assert find_official(templates, "DEFAULT").name == "default"
    assert find_official(templates, "default.json").name == "default"


def test_an_unknown_name_is_exit_2_with_the_closest_names() -> None:
    """A name the server does not ship: unknown_official_template, the hint says how to list."""
    with pytest.raises(TemplateNotFound) as caught:
        find_official(parse_index(INDEX), "ltxv_text_to_vidoe")
    error = caught.value
    assert error.code == "unknown_official_template" and error.exit_code == ExitCode.USAGE
    assert "ltxv_text_to_video" in error.message
    assert error.hint == "See the names with: comfycine workflow import --official"
    assert error.details["close"] == ["ltxv_text_to_video"]


async def test_listing_and_fetching_from_the_server() -> None:
    """The index and a template come from /templates/; the version from /system_stats."""
    seen: list[str] = []
    async with make_client(serve_fixtures(seen)) as client:
        listed = await list_official(client)
        ui = await fetch_official(client, find_official(listed, "default"))
        version = await templates_version(client)
    assert seen == ["/templates/index.json", "/templates/default.json", "/system_stats"]
    assert isinstance(ui["nodes"], list) and version == "0.7.25"


async def test_a_listed_template_the_server_does_not_serve_is_a_server_error() -> None:
    """The index names it but the file is missing: official_template_missing, exit 4."""
    seen: list[str] = []
    missing = OfficialTemplate("sd3.5 simple", "SD 3.5", "", "image", "")
    async with make_client(serve_fixtures(seen)) as client:
        with pytest.raises(ServerError) as caught:
            await fetch_official(client, missing)
    assert seen == ["/templates/sd3.5%20simple.json"]
    assert caught.value.code == "official_template_missing"


def test_official_meta_records_where_the_template_came_from() -> None:
    """The sidecar's official entry: name, title, media type, partner mark, version, tutorial."""
    kling = find_official(parse_index(INDEX), "api_kling_flf")
    entry = official_meta(kling, "0.7.25")["official"]
    assert entry["name"] == "api_kling_flf" and entry["partner"] is True
    assert entry["templates_version"] == "0.7.25" and entry["media_type"] == "video"
    assert "templates_version" not in official_meta(kling, None)["official"]
