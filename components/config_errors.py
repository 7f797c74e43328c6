"""Config errors a person can act on: one line per problem, the key written as it is in
the YAML file (``ingest.sources[0].glob``), and for an unknown key the keys allowed there
and the closest one.

pydantic's own text repeats the input, names the union member (``sources.0.csv.glob``)
and links to its documentation; none of that says what to type.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def describe_validation_error(err: ValidationError, model: type[BaseModel], raw: Any) -> str:
    """Every error of ``err`` (from validating ``raw`` as ``model``) as ``- key: problem``
    lines, in the order pydantic found them."""
    return "\n".join(f"- {_describe(e, model, raw)}" for e in err.errors())


def _describe(error: dict, model: type[BaseModel], raw: Any) -> str:
    key, parent = _yaml_key(error["loc"], model, raw)
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return f"{key}: required, missing"
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        allowed = _field_names(parent)
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"{key}: unknown key; {hint}allowed here: {', '.join(allowed)}"
    where, given = key or "the file", error.get("input")
    if kind in ("model_type", "dict_type") and given is None:
        return f"{where}: empty; expected settings (key: value lines)"
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if isinstance(given, dict):  # a check across a section's keys: the section is no clue
        return f"{where}: {message}"
    shown = repr(given)
    return f"{where}: {message} (got {shown if len(shown) <= 80 else shown[:77] + '...'})"


def _yaml_key(loc: tuple, model: type[BaseModel], raw: Any) -> tuple[str, type[BaseModel] | None]:
    """``loc`` as the YAML path (union tags dropped: they are not keys) and the model class
    that holds its last key."""
    key, annotation, node, parent = "", model, raw, model
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            annotation = _item_type(annotation)
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if typing.get_origin(annotation) is dict:  # a name the user chose (a sensor), not a field
            key += f".{part}"
            annotation = _item_type(annotation)
            node = node.get(part) if isinstance(node, dict) else None
            continue
        member = _union_member(annotation, part, node)
        if member is not None:
            annotation = parent = member  # a discriminated union's tag in loc, not a key of the file
            continue
        model_class = _model_class(annotation)
        parent = model_class
        key += f".{part}" if key else str(part)
        annotation = _field_annotation(model_class, part)
        node = node.get(part) if isinstance(node, dict) else None
    return key, parent


def _model_class(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _union_member(annotation: Any, tag: str, node: Any) -> type[BaseModel] | None:
    """The member of a discriminated union whose ``kind`` is ``tag`` (as pydantic puts it in loc)."""
    if not isinstance(node, dict) or node.get("kind") != tag or tag in node:
        return None
    for member in typing.get_args(_strip_annotated(annotation)):
        if isinstance(member, type) and issubclass(member, BaseModel) and member.model_fields.get("kind") is not None:
            if member.model_fields["kind"].default == tag:
                return member
    return None


def _field_annotation(model_class: type[BaseModel] | None, name: str) -> Any:
    if model_class is None:
        return None
    for field_name, field in model_class.model_fields.items():
        if name in (field_name, field.alias):
            return _strip_optional(_strip_annotated(field.annotation))
    return None


def _field_names(model_class: type[BaseModel] | None) -> list[str]:
    if model_class is None:
        return []
    return [field.alias or name for name, field in model_class.model_fields.items()]


def _item_type(annotation: Any) -> Any:
    args = typing.get_args(_strip_annotated(annotation))
    return _strip_optional(_strip_annotated(args[-1])) if args else None


def _strip_annotated(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
