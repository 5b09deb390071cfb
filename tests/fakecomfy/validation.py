"""``POST /prompt`` validation, with the real server's rules, messages and quirks.

Reproduces what ComfyUI 0.3.75 answers (captures ``10*``): the first node without
``class_type`` or with an unknown class stops validation with ``invalid_prompt`` and
empty ``node_errors``; a graph without output nodes gives ``prompt_no_outputs``; input
problems are collected per node under ``prompt_outputs_failed_validation``, whose
``details`` only lists the errors of the output nodes themselves.

The code deliberately indexes the prompt the way the real server does, so that
malformed prompts fail the same way: a ``KeyError`` for a link to a missing node
becomes ``exception_during_validation``, and a prompt that is not a dict raises out of
:func:`validate_prompt` (the route turns that into aiohttp's plain-text 500).
"""

from __future__ import annotations

import traceback
from typing import Any

from tests.fakecomfy.files import Folders
from tests.fakecomfy.nodes import CUSTOM_VALIDATORS

Error = dict[str, Any]
Validated = dict[str, tuple[bool, list[Error], str]]

_CONVERTERS: dict[str, type] = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


def _full_type_name(kind: type) -> str:
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _input_info(spec: dict[str, Any], name: str) -> tuple[Any, str | None, dict[str, Any]]:
    for category in ("required", "optional", "hidden"):
        group = spec.get(category, {})
        if name in group:
            entry = group[name]
            if not isinstance(entry, list):
                entry = [entry]
            extra = entry[1] if len(entry) > 1 else {}
            return entry[0], category, extra
    return None, None, {}


def _types_match(received: Any, expected: Any) -> bool:
    if received == expected:
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {part.strip() for part in received.split(",")}
    want = {part.strip() for part in expected.split(",")}
    return bool(got & want)


class PromptValidator:
    """Validate one prompt against an ``/object_info`` dict (one instance per request)."""

    def __init__(self, prompt: Any, object_info: dict[str, Any], folders: Folders) -> None:
        self.prompt = prompt
        self.info = object_info
        self.folders = folders
        self.validated: Validated = {}

    def validate(
        self, partial_targets: Any = None
    ) -> tuple[bool, Error | None, list[str], dict[str, Any]]:
        """Return ``(ok, error, outputs_to_run, node_errors)`` like ``validate_prompt``."""
        prompt = self.prompt
        outputs = []
        for node_id in prompt:
            if "class_type" not in prompt[node_id]:
                return (
                    False,
                    _invalid(
                        "Cannot execute because a node is missing the class_type property.", node_id
                    ),
                    [],
                    {},
                )
            class_type = prompt[node_id]["class_type"]
            if class_type not in self.info:
                return (
                    False,
                    _invalid(f"Cannot execute because node {class_type} does not exist.", node_id),
                    [],
                    {},
                )
            is_target = partial_targets is None or node_id in partial_targets
            if self.info[class_type].get("output_node") is True and is_target:
                outputs.append(node_id)
        if not outputs:
            return False, _error("prompt_no_outputs", "Prompt has no outputs", ""), [], {}

        good: list[str] = []
        failures: list[tuple[str, list[Error]]] = []
        node_errors: dict[str, Any] = {}
        for output in outputs:
            try:
                ok, reasons, _ = self._validate_node(output)
            except Exception as exc:
                ok, reasons = False, [_exception_error(exc)]
                self.validated[output] = (False, reasons, output)
            if ok:
                good.append(output)
                continue
            failures.append((output, reasons))
            for node_id, (node_ok, node_reasons, _) in self.validated.items():
                if node_ok or not node_reasons:
                    continue
                entry = node_errors.setdefault(
                    node_id,
                    {
                        "errors": node_reasons,
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    },
                )
                entry["dependent_outputs"].append(output)
        if not good:
            details = "\n".join(
                f"{reason['message']}: {reason['details']}"
                for _, reasons in failures
                for reason in reasons
            )
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation")
            error["details"] = details
            return False, error, good, node_errors
        return True, None, good, node_errors

    def _validate_node(self, node_id: str) -> tuple[bool, list[Error], str]:
        if node_id in self.validated:
            return self.validated[node_id]
        node = self.prompt[node_id]
        inputs = node["inputs"]
        spec = self.info[node["class_type"]]["input"]
        custom_args, custom_check = CUSTOM_VALIDATORS.get(node["class_type"], ((), None))
        names = [*spec.get("required", {}), *spec.get("optional", {})]
        errors: list[Error] = []
        valid = True
        for name in names:
            input_type, category, extra = _input_info(spec, name)
            if name not in inputs:
                if category == "required":
                    errors.append(
                        {
                            "type": "required_input_missing",
                            "message": "Required input is missing",
                            "details": name,
                            "extra_info": {"input_name": name},
                        }
                    )
                continue
            config = [input_type, extra]
            value = inputs[name]
            if isinstance(value, list):
                link_error, link_ok = self._check_link(name, value, input_type, config)
                if link_error is not None:
                    errors.append(link_error)
                valid = valid and link_ok
                continue
            if isinstance(value, dict) and "__value__" in value:
                value = inputs[name] = value["__value__"]
            converter = _CONVERTERS.get(input_type) if isinstance(input_type, str) else None
            if converter is not None:
                try:
                    value = inputs[name] = converter(value)
                except Exception as exc:
                    errors.append(
                        {
                            "type": "invalid_input_type",
                            "message": f"Failed to convert an input value to a {input_type} value",
                            "details": f"{name}, {value}, {exc}",
                            "extra_info": {
                                "input_name": name,
                                "input_config": config,
                                "received_value": value,
                                "exception_message": str(exc),
                            },
                        }
                    )
                    continue
            if name not in custom_args:
                problem = _range_or_combo_error(name, value, input_type, extra, config)
                if problem is not None:
                    errors.append(problem)
        if custom_check is not None:
            verdict = custom_check(self.folders, inputs)
            if verdict is not True:
                for name in custom_args:
                    details = name if verdict is False else f"{name} - {verdict}"
                    errors.append(
                        {
                            "type": "custom_validation_failed",
                            "message": "Custom validation failed for node",
                            "details": details,
                            "extra_info": {"input_name": name},
                        }
                    )
        result = (not errors and valid, errors, node_id)
        self.validated[node_id] = result
        return result

    def _check_link(
        self, name: str, value: list[Any], input_type: Any, config: list[Any]
    ) -> tuple[Error | None, bool]:
        """Check a ``[node_id, slot]`` link; return (error to report, whether upstream is ok)."""
        if len(value) != 2:
            return {
                "type": "bad_linked_input",
                "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                "details": name,
                "extra_info": {"input_name": name, "input_config": config, "received_value": value},
            }, True
        source_id = value[0]
        source_class = self.prompt[source_id]["class_type"]
        received = tuple(self.info[source_class]["output"])[value[1]]
        if not _types_match(received, input_type):
            return {
                "type": "return_type_mismatch",
                "message": "Return type mismatch between linked nodes",
                "details": f"{name}, received_type({received}) mismatch input_type({input_type})",
                "extra_info": {
                    "input_name": name,
                    "input_config": config,
                    "received_type": received,
                    "linked_node": value,
                },
            }, True
        try:
            upstream_ok = self._validate_node(source_id)[0]
        except Exception as exc:
            inner = {
                "type": "exception_during_inner_validation",
                "message": "Exception when validating inner node",
                "details": str(exc),
                "extra_info": {
                    "input_name": name,
                    "input_config": config,
                    "exception_message": str(exc),
                    "exception_type": _full_type_name(type(exc)),
                    "traceback": traceback.format_tb(exc.__traceback__),
                    "linked_node": value,
                },
            }
            self.validated[source_id] = (False, [inner], source_id)
            return None, False
        return None, upstream_ok


def _range_or_combo_error(
    name: str, value: Any, input_type: Any, extra: dict[str, Any], config: list[Any]
) -> Error | None:
    base = {"input_name": name, "input_config": config, "received_value": value}
    if "min" in extra and value < extra["min"]:
        return {
            "type": "value_smaller_than_min",
            "message": f"Value {value} smaller than min of {extra['min']}",
            "details": name,
            "extra_info": base,
        }
    if "max" in extra and value > extra["max"]:
        return {
            "type": "value_bigger_than_max",
            "message": f"Value {value} bigger than max of {extra['max']}",
            "details": name,
            "extra_info": base,
        }
    if isinstance(input_type, list) and value not in input_type:
        # Long lists (scanned model folders) are not echoed back.
        listed = str(input_type) if len(input_type) <= 20 else f"(list of length {len(input_type)})"
        if len(input_type) > 20:
            base["input_config"] = None
        return {
            "type": "value_not_in_list",
            "message": "Value not in list",
            "details": f"{name}: '{value}' not in {listed}",
            "extra_info": base,
        }
    return None


def _error(kind: str, message: str, details: str = "") -> Error:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _invalid(message: str, node_id: str) -> Error:
    return _error("invalid_prompt", message, f"Node ID '#{node_id}'")


def _exception_error(exc: Exception) -> Error:
    return {
        "type": "exception_during_validation",
        "message": "Exception when validating node",
        "details": str(exc),
        "extra_info": {
            "exception_type": _full_type_name(type(exc)),
            "traceback": traceback.format_tb(exc.__traceback__),
        },
    }
