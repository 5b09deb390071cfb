"""The ``workflow`` commands as library calls: validate, convert, import, script, run, inventory.

A workflow reference is a template name, an API or UI ``.json`` file, or a ComfyScript
``.py`` script. Everything is checked against the target's live ``/object_info`` and
``/models`` (or the last snapshot of them when the server cannot be reached).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import TemplateInvalid, UsageError
from .generation import PreparedJob, run_prepared
from .graph.catalog_source import CatalogResult, load_catalog
from .graph.convert import ConversionResult, is_ui_workflow, ui_to_api
from .inventory import NodeSummary, list_models, search_nodes
from .jobs import Observer
from .preflight import LoadedWorkflow, ValidationReport, check
from .results import JobResult
from .settings import Settings
from .targets import Target
from .templates import load_template, template_dirs


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateInvalid(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise TemplateInvalid(f"{path} is not valid JSON: {exc}.") from None


def _is_api_graph(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(n, dict) and isinstance(n.get("class_type"), str) for n in data.values())
    )


def load_workflow(
    ref: str,
    settings: Settings,
    catalog: CatalogResult | None,
    *,
    server_url: str,
    allow_ui: bool,
) -> LoadedWorkflow:
    """Resolve ``ref`` (template name, .json file, or .py script) to an API graph."""
    path = Path(ref).expanduser()
    if path.suffix == ".py":
        from .comfyscript import build_graph_from_script

        if not path.is_file():
            raise UsageError(f"No script {path}.", code="script_not_found")
        built = build_graph_from_script(path, server_url)
        if len(built.graphs) > 1:
            raise UsageError(
                f"{path.name} builds {len(built.graphs)} workflows; comfycine runs one per script.",
                hint="Keep one `with Workflow():` block in the script.",
                code="script_many_workflows",
            )
        return LoadedWorkflow(path.stem, built.graphs[0], "script", path)
    if path.suffix == ".json" and path.is_file():
        data = _read_json(path)
        if is_ui_workflow(data):
            if not allow_ui:
                raise TemplateInvalid(
                    f"{path.name} is in ComfyUI's UI (save) format, not the API format.",
                    hint=f"Convert it first: comfycine workflow convert {path}",
                )
            if catalog is None:
                raise TemplateInvalid(f"Converting {path.name} needs the server's node list.")
            converted = ui_to_api(data, catalog.catalog)
            return LoadedWorkflow(path.stem, converted.graph, "ui", path, None, converted.warnings)
        if not _is_api_graph(data):
            raise TemplateInvalid(
                f"{path.name} is not a ComfyUI workflow (neither API nor UI format).",
                hint="Export it from ComfyUI with Workflow > Export (API).",
            )
        return LoadedWorkflow(path.stem, data, "api", path)
    template = load_template(ref, template_dirs(settings.workflow_dir))
    return LoadedWorkflow(template.name, template.graph, "template", template.path, template)


async def validate(
    settings: Settings, ref: str, *, target: Target, offline: bool = False
) -> ValidationReport:
    """``workflow validate FILE|NAME``."""
    async with target.client() as client:
        catalog = await load_catalog(client, settings.cache_dir, offline=offline)
    loaded = load_workflow(ref, settings, catalog, server_url=target.url, allow_ui=True)
    return check(loaded, catalog)


async def convert(
    settings: Settings,
    source: Path,
    *,
    target: Target,
    offline: bool = False,
    seed: int | None = None,
) -> ConversionResult:
    """``workflow convert UI.json``: the API graph, the warnings, the dynamic prompts drawn.

    ``seed`` draws the ``{a|b}`` choices again as a previous conversion did.
    """
    data = _read_json(source)
    if not is_ui_workflow(data):
        if _is_api_graph(data):
            raise UsageError(
                f"{source.name} is already in API format.",
                hint=f"Validate it with: comfycine workflow validate {source}",
                code="already_api",
            )
        raise TemplateInvalid(f"{source.name} is not a ComfyUI workflow.")
    async with target.client() as client:
        catalog = await load_catalog(client, settings.cache_dir, offline=offline)
    return ui_to_api(data, catalog.catalog, seed=seed)


async def find_nodes(
    settings: Settings, search: str | None, *, target: Target, offline: bool = False
) -> list[NodeSummary]:
    """``workflow nodes [SEARCH]``."""
    async with target.client() as client:
        catalog = await load_catalog(client, settings.cache_dir, offline=offline)
    return search_nodes(catalog.catalog, search)


async def find_models(
    settings: Settings, folder: str | None, *, target: Target
) -> dict[str, list[str]]:
    """``workflow models [FOLDER]``."""
    async with target.client() as client:
        return await list_models(client, folder)


async def import_saved(
    settings: Settings,
    names: list[str],
    *,
    target: Target,
    dest: Path,
    everything: bool = False,
    force: bool = False,
    as_name: str | None = None,
) -> dict[str, Any]:
    """``workflow import``: list the server's saved workflows, or import some as templates.

    ``as_name`` names the template written from a single saved workflow.
    """
    from .importing import fetch_saved_workflow, import_workflow, list_saved_workflows

    if as_name is not None and (everything or len(names) != 1):
        raise UsageError(
            "--as names one template; give exactly one NAME with it.",
            code="as_needs_one_name",
            hint="Import the others in a second command, without --as.",
        )
    async with target.client() as client:
        saved = await list_saved_workflows(client)
        listing = [s.to_dict() for s in saved]
        wanted = [s for s in saved if everything or _matches(s.path, names)]
        missing = [n for n in names if not any(_matches(s.path, [n]) for s in saved)]
        if missing:
            raise UsageError(
                f"No saved workflow named {', '.join(missing)} on the server.",
                hint="List them with: comfycine workflow import",
                code="unknown_saved_workflow",
                details={"saved": [s.path for s in saved]},
            )
        if not wanted:
            return {"saved": listing, "imported": [], "skipped": []}
        catalog = await load_catalog(client, settings.cache_dir)
        imported, skipped = [], []
        for item in wanted:
            data = await fetch_saved_workflow(client, item.path)
            try:
                result = import_workflow(
                    data,
                    catalog.catalog,
                    name=as_name or Path(item.path).stem,
                    dest_dir=dest,
                    overwrite=force,
                    source=item.path,
                )
            except (UsageError, TemplateInvalid) as exc:
                if not everything:
                    raise
                skipped.append({"name": item.path, "reason": exc.message, "code": exc.code})
                continue
            imported.append(result.to_dict())
    return {"saved": listing, "imported": imported, "skipped": skipped}


async def list_official_templates(settings: Settings, *, target: Target) -> dict[str, Any]:
    """``workflow import --official``: the templates the server ships."""
    from .templates.official import list_official, templates_version

    async with target.client() as client:
        listed = await list_official(client)
        version = await templates_version(client)
    return {"official": [t.to_dict() for t in listed], "templates_version": version}


async def import_official(
    settings: Settings,
    names: list[str],
    *,
    target: Target,
    dest: Path,
    as_name: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """``workflow import --official NAME…``: write them as templates into ``dest``.

    Every name is checked against the server's index before anything is written;
    ``as_name`` renames a single template. Each is converted with the server's node
    list, gets inferred placeholders and a sidecar (the index's description, models
    with URLs and folders, packs, partner nodes, where it came from).
    """
    from .importing import import_workflow
    from .templates.official import (
        fetch_official,
        find_official,
        list_official,
        official_meta,
        templates_version,
    )

    if as_name is not None and len(names) != 1:
        raise UsageError(
            "--as renames one template; give exactly one NAME with it.",
            code="as_needs_one_name",
            hint="Import the others in a second command, without --as.",
        )
    async with target.client() as client:
        index = await list_official(client)
        chosen = [find_official(index, name) for name in names]
        version = await templates_version(client)
        catalog = await load_catalog(client, settings.cache_dir)
        imported = []
        for template in chosen:
            result = import_workflow(
                await fetch_official(client, template),
                catalog.catalog,
                name=as_name or template.name,
                dest_dir=dest,
                overwrite=force,
                source=f"official template {template.name}",
                description=template.description or template.title,
                extra_meta=official_meta(template, version),
            )
            imported.append(result.to_dict())
    return {"imported": imported, "skipped": [], "templates_version": version}


def _matches(path: str, names: list[str]) -> bool:
    stem = Path(path).stem
    return any(name in (path, stem, f"{stem}.json") for name in names)


def to_script(ref: str, settings: Settings, *, target: Target) -> str:
    """``workflow to-script FILE|NAME``: ComfyScript source for an API graph."""
    from .comfyscript import transpile

    loaded = load_workflow(ref, settings, None, server_url=target.url, allow_ui=False)
    if loaded.source == "script":
        raise UsageError(f"{ref} is already a script.", code="already_script")
    return transpile(loaded.graph, target.url)


async def run_workflow(
    settings: Settings,
    ref: str,
    *,
    target: str | None = None,
    detach: bool = False,
    timeout: float | None = None,
    observer: Observer | None = None,
    check_first: bool = True,
    allow_spend: bool = False,
) -> JobResult:
    """``workflow run SCRIPT.py|FILE.json``: nodes exist, models exist, submit, follow.

    Partner (paid API) nodes are refused before anything is sent (ConsentRequired,
    exit 9) unless ``allow_spend``, whatever the graph came from (a script too).
    """
    from .targets import resolve_target

    chosen = resolve_target(settings, target)
    loaded = load_workflow(ref, settings, None, server_url=chosen.url, allow_ui=False)
    if check_first:
        async with chosen.client() as client:
            catalog = await load_catalog(client, settings.cache_dir)
        check(loaded, catalog).raise_if_invalid()
    # Checked above against the live node list; no second preflight.
    job = PreparedJob(
        label=loaded.label,
        build=lambda _uploaded: loaded.graph,
        preflight=None,
        allow_spend=allow_spend,
    )
    return await run_prepared(
        settings, job, target=chosen, detach=detach, timeout=timeout, observer=observer
    )
