"""Binding user values to a template's parameters: parse, type, check, default, randomize."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MediaNotFound, ParameterError
from .placeholders import Parameter
from .values import check_value, coerce_value

if TYPE_CHECKING:
    import random

    from .discovery import Template

SEED_RANDOM_MAX = 2**32 - 1


@dataclass(frozen=True)
class Binding:
    """Typed values for every parameter of a template, ready to render.

    ``values`` holds every parameter (media as the local path text); ``media`` the local
    files to upload, by parameter; ``randomized_seeds`` the seeds drawn because nothing
    set them (the ledger records them so a take can be re-rendered); ``sources`` says
    where each value came from: ``"set"``, ``"default"`` or ``"random"``.
    """

    values: dict[str, Any]
    media: dict[str, Path] = field(default_factory=dict)
    randomized_seeds: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def normalize_name(name: str) -> str:
    """A parameter name as typed (``Camera-Type``) in canonical form (``camera_type``)."""
    return name.strip().lower().replace("-", "_")


def _problem(parameter: str | None, code: str, message: str) -> dict[str, Any]:
    return {"parameter": parameter, "code": code, "message": message}


def _collect_raw(
    prompt: str | None,
    assignments: Sequence[str],
    overrides: Mapping[str, str] | None,
    problems: list[dict[str, Any]],
) -> dict[str, str]:
    # Nothing wins silently: one name given two different values (--set twice, --set and
    # a shortcut such as --steps, --set prompt and --prompt) is a problem naming both.
    raw: dict[str, str] = {}

    def put(name: str, value: str) -> None:
        if name in raw and raw[name] != value:
            message = f"{name} is given twice, as {raw[name]!r} and as {value!r}: keep one"
            problems.append(_problem(name, "duplicate", message))
        raw.setdefault(name, value)

    for key, value in (overrides or {}).items():
        put(normalize_name(key), value)
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(_problem(None, "bad_assignment", f"expected NAME=VALUE, got {item!r}"))
            continue
        put(normalize_name(name), value)
    if prompt is not None:
        put("prompt", prompt)
    return raw


def check_assignments(assignments: Sequence[str]) -> None:
    """Raise :class:`ParameterError` for a malformed or contradictory ``--set`` list.

    For commands that take ``--set`` once for many jobs (``watch``): the mistake is
    reported before the first job rather than by each.
    """
    problems: list[dict[str, Any]] = []
    _collect_raw(None, assignments, None, problems)
    if problems:
        raise ParameterError(
            "; ".join(p["message"] for p in problems),
            hint="Give each --set NAME=VALUE once.",
            details={"problems": problems},
        )


def _unknown_problem(name: str, valid: list[str]) -> dict[str, Any]:
    if not valid:
        return _problem(name, "unknown", f"unknown parameter {name!r}: this template takes none")
    if name == "prompt":
        message = "this template takes no prompt"
    else:
        import difflib

        message = f"unknown parameter {name!r}"
        close = difflib.get_close_matches(name, valid, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return _problem(name, "unknown", f"{message}; valid: {', '.join(valid)}")


def _resolve_media(param: Parameter, text: str) -> Path | dict[str, Any]:
    """The absolute path of an existing, non-empty file, or the problem with it."""
    path = Path(os.path.expanduser(text)).absolute()
    code = "media_not_found"
    if path.is_file():
        try:
            empty = path.stat().st_size == 0
        except OSError:
            empty = False  # vanished meanwhile: the upload reports it
        if not empty:
            return path
        code, reason = "media_empty", "is empty (0 bytes)"
    else:
        reason = "is a directory, not a file" if path.is_dir() else "does not exist"
    problem = _problem(param.name, code, f"{param.name}: {path} {reason}")
    problem["path"] = str(path)
    return problem


def _raise(problems: list[dict[str, Any]], template: Template) -> None:
    missing = [p["parameter"] for p in problems if p["code"] == "missing"]
    parts = [f"missing: {', '.join(missing)}"] if missing else []
    parts += [p["message"] for p in problems if p["code"] != "missing"]
    message = "; ".join(parts)
    details: dict[str, Any] = {"template": template.name, "problems": problems}
    if all(p["code"] == "media_empty" for p in problems):
        hint = "Export or copy the file again (it has no content), then retry."
        raise MediaNotFound(message, code="media_empty", hint=hint, details=details)
    if all(p["code"] in {"media_not_found", "media_empty"} for p in problems):
        raise MediaNotFound(message, details=details)
    hint = f"See the template's parameters with: comfycine workflow show {template.name}"
    if missing:
        hint = "Set them with --set NAME=VALUE" + (
            " (and --prompt TEXT)" if "prompt" in missing else ""
        )
        hint += f"; see: comfycine workflow show {template.name}"
    raise ParameterError(message, hint=hint, details=details)


def bind_values(
    template: Template,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    kept: Mapping[str, Any] | None = None,
) -> Binding:
    """Type and check the user's values for ``template``, filling defaults and seeds.

    ``assignments`` are raw ``NAME=VALUE`` strings (repeated ``--set``); ``overrides``
    are CLI shortcuts by name; names are case-insensitive and ``-`` stands for ``_``.
    A seed left unset gets a random value in [0, 2**32-1], within the seed's bounds when
    the sidecar narrows them (unless the template fixes its seeds). Every problem is
    collected into one ParameterError (``details.problems``); MediaNotFound when missing
    files are the only problem. ``kept`` holds media values
    taken as they are (source ``"kept"``, no file needed): a retake's input already on
    the server.
    """
    problems: list[dict[str, Any]] = []
    raw = _collect_raw(prompt, assignments, overrides, problems)
    kept = kept or {}
    valid = list(template.parameters)
    problems += [_unknown_problem(name, valid) for name in raw if name not in template.parameters]
    binding = Binding(values={})
    for name, param in template.parameters.items():
        if name in kept and name not in raw and param.kind.is_media:
            binding.values[name] = kept[name]
            binding.sources[name] = "kept"
            continue
        if name in raw:
            try:
                value = coerce_value(param.kind, raw[name])
            except ValueError as exc:
                problems.append(_problem(name, "bad_value", f"{name} {exc}"))
                continue
            source = "set"
        elif param.randomized:
            if rng is None:
                import random

                rng = random.Random()
            # A node may take a narrower range (partner nodes: up to 2**31-1).
            low = max(0, int(param.minimum or 0))
            high = SEED_RANDOM_MAX if param.maximum is None else int(param.maximum)
            value = rng.randint(low, max(low, min(high, SEED_RANDOM_MAX)))
            binding.randomized_seeds[name] = value
            source = "random"
        elif param.default is not None:
            value, source = param.default, "default"
        else:
            problems.append(_problem(name, "missing", f"{name} has no value"))
            continue
        if param.kind.is_media:
            resolved = _resolve_media(param, value)
            if isinstance(resolved, dict):
                problems.append(resolved)
                continue
            binding.media[name] = resolved
            value = str(resolved)
        elif (message := check_value(param, value)) is not None:
            problems.append(_problem(name, "bad_value", message))
            continue
        binding.values[name] = value
        binding.sources[name] = source
    if problems:
        _raise(problems, template)
    return binding
