"""The official workflow templates a ComfyUI ships, read from the server itself.

ComfyUI serves the ``comfyui-workflow-templates`` packages it has installed under
``/templates/`` (seen on 0.3.75 with the packages at 0.7.25). ``/templates/index.json``
lists them in categories (``[{"title", "type", "category"?, "templates": [{"name",
"title", "description", "mediaType", "models", "tags", "openSource"?, "tutorialUrl"?,
…}]}]``; ``mediaType`` is the thumbnail's, the tags say what the template makes) and
``/templates/<name>.json`` is one template, a UI-format workflow whose loader nodes carry
their model files' URLs and folders. Only files in the packages' manifest are served;
any other name is a 404. ``/system_stats`` says which package version is installed.

Partner (paid API) templates are marked ``openSource: false`` (and named ``api_…``);
the spend gate asks for consent when one runs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import ServerError, TemplateNotFound, UsageError
from ..transport import ComfyClient

INDEX_PATH = "/templates/index.json"
TEMPLATE_PATH = "/templates/{name}.json"
LIST_HINT = "See the names with: comfycine workflow import --official"
FETCH_TIMEOUT = 15.0  # per read; the index is ~100 KB and the largest template ~200 KB


@dataclass(frozen=True)
class OfficialTemplate:
    """One entry of the server's template index."""

    name: str
    title: str
    description: str
    media_type: str
    category: str
    models: tuple[str, ...] = ()  # display names ("Wan2.2"), not files
    tags: tuple[str, ...] = ()
    partner: bool = False
    tutorial_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "media_type": self.media_type,
            "category": self.category,
            "models": list(self.models),
            "tags": list(self.tags),
            "partner": self.partner,
            "tutorial_url": self.tutorial_url,
        }


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(v) for v in value if _text(v)) if isinstance(value, list) else ()


def _media_kind(entry: dict[str, Any], group: dict[str, Any]) -> str:
    """What a template makes: its Video/Audio/3D/Image tag, else its category's type.

    The entry's own ``mediaType`` describes its thumbnail (a webp for video templates).
    """
    tags = set(_texts(entry.get("tags")))
    for tag, kind in (("Video", "video"), ("Audio", "audio"), ("3D", "3d"), ("Image", "image")):
        if tag in tags:
            return kind
    return _text(group.get("type")) or _text(entry.get("mediaType"))


def parse_index(data: Any) -> list[OfficialTemplate]:
    """The templates of ``/templates/index.json``, in index order, each name once.

    Malformed categories and entries without a name are skipped.
    """
    found: dict[str, OfficialTemplate] = {}
    for group in data if isinstance(data, list) else ():
        if not isinstance(group, dict) or not isinstance(group.get("templates"), list):
            continue
        category = " / ".join(
            t for t in (_text(group.get("category")), _text(group.get("title"))) if t
        )
        for entry in group["templates"]:
            name = _text(entry.get("name")) if isinstance(entry, dict) else ""
            if not name or name in found:
                continue
            found[name] = OfficialTemplate(
                name=name,
                title=_text(entry.get("title")) or name,
                description=_text(entry.get("description")),
                media_type=_media_kind(entry, group),
                category=category,
                models=_texts(entry.get("models")),
                tags=_texts(entry.get("tags")),
                partner=entry.get("openSource") is False or name.startswith("api_"),
                tutorial_url=_text(entry.get("tutorialUrl")) or None,
            )
    return list(found.values())


async def list_official(client: ComfyClient) -> list[OfficialTemplate]:
    """The templates the server ships. Raises UsageError when it serves none."""
    data = await client.first_json([INDEX_PATH], timeout=FETCH_TIMEOUT)
    templates = parse_index(data)
    if not templates:
        raise UsageError(
            f"{client.base_url} serves no official workflow templates.",
            code="no_official_templates",
            hint="Update ComfyUI with its requirements (they bring comfyui-workflow-templates).",
        )
    return templates


def find_official(templates: list[OfficialTemplate], name: str) -> OfficialTemplate:
    """The template called ``name`` (case-insensitive, ``.json`` allowed).

    Raises :class:`TemplateNotFound` (``unknown_official_template``, exit 2) naming the
    closest names.
    """
    wanted = name.strip().removesuffix(".json").lower()
    for template in templates:
        if template.name.lower() == wanted:
            return template
    names = [t.name for t in templates]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    also = f" (did you mean {', '.join(close)}?)" if close else ""
    raise TemplateNotFound(
        f"This ComfyUI ships no official template {name!r}{also}.",
        code="unknown_official_template",
        hint=LIST_HINT,
        details={"name": name, "close": close},
    )


async def fetch_official(client: ComfyClient, template: OfficialTemplate) -> dict[str, Any]:
    """The UI workflow of one listed template."""
    path = TEMPLATE_PATH.format(name=quote(template.name, safe=""))
    data = await client.first_json([path], timeout=FETCH_TIMEOUT)
    if not isinstance(data, dict):
        raise ServerError(
            f"{client.base_url} lists the template {template.name!r} but does not serve it.",
            code="official_template_missing",
            hint="Reinstall ComfyUI's requirements (comfyui-workflow-templates and its media "
            "packages).",
            details={"name": template.name},
        )
    return data


def official_meta(template: OfficialTemplate, version: str | None) -> dict[str, Any]:
    """The sidecar's ``official`` entry: where the template came from."""
    entry: dict[str, Any] = {
        "name": template.name,
        "title": template.title,
        "media_type": template.media_type,
        "partner": template.partner,
    }
    if template.tutorial_url:
        entry["tutorial_url"] = template.tutorial_url
    if version:
        entry["templates_version"] = version
    return {"official": entry}


async def templates_version(client: ComfyClient) -> str | None:
    """The installed ``comfyui-workflow-templates`` version (None when not reported)."""
    try:
        stats = await client.system_stats()
    except ServerError:
        return None
    version = (stats.get("system") or {}).get("installed_templates_version")
    return version if isinstance(version, str) and version else None
