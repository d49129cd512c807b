"""CloudFormation template helpers: references, intrinsic-function evaluation, substitution."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# ("Ref", logical id, "") or ("GetAtt", logical id, attribute)
Reference = tuple[str, str, str]

PSEUDO_PREFIX = "AWS::"
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class UnresolvedError(Exception):
    """An intrinsic function could not be evaluated (unknown value or unsupported function)."""


def _sub_reference(name: str) -> Reference | None:
    name = name.strip()
    if name.startswith(PSEUDO_PREFIX):
        return None
    if "." in name:
        logical_id, attribute = name.split(".", 1)
        return ("GetAtt", logical_id, attribute)
    return ("Ref", name, "")


def _getatt_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        logical_id, attribute = value.split(".", 1)
        return logical_id, attribute
    return str(value[0]), str(value[1])


def references(expr: Any) -> set[Reference]:
    """Every Ref/GetAtt (also inside Fn::Sub) to a logical id; pseudo parameters excluded."""
    found: set[Reference] = set()
    if isinstance(expr, dict):
        if len(expr) == 1:
            ((key, value),) = expr.items()
            if key == "Ref" and isinstance(value, str):
                if not value.startswith(PSEUDO_PREFIX):
                    found.add(("Ref", value, ""))
                return found
            if key == "Fn::GetAtt":
                logical_id, attribute = _getatt_parts(value)
                found.add(("GetAtt", logical_id, attribute))
                return found
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in _SUB_VARIABLE.findall(text):
                    if name not in variables and (ref := _sub_reference(name)) is not None:
                        found.add(ref)
                for sub_expr in variables.values():
                    found |= references(sub_expr)
                return found
        for value in expr.values():
            found |= references(value)
    elif isinstance(expr, list):
        for value in expr:
            found |= references(value)
    return found


def depends_on(resource: Mapping[str, Any]) -> set[str]:
    """Logical ids a resource needs: its references plus DependsOn."""
    ids = {ref[1] for ref in references(resource.get("Properties", {}))}
    extra = resource.get("DependsOn", [])
    ids |= {extra} if isinstance(extra, str) else set(extra)
    return ids


class Evaluator:
    """Evaluates intrinsic functions with known Ref/GetAtt values and pseudo parameters."""

    def __init__(self, pseudo: Mapping[str, str], lookup: Callable[[Reference], Any]) -> None:
        self.pseudo = dict(pseudo)
        self.lookup = lookup

    def ref(self, name: str) -> Any:
        if name.startswith(PSEUDO_PREFIX):
            if name not in self.pseudo:
                raise UnresolvedError(f"pseudo parameter {name}")
            return self.pseudo[name]
        return self.lookup(("Ref", name, ""))

    def __call__(self, expr: Any) -> Any:
        if isinstance(expr, list):
            return [self(value) for value in expr]
        if not isinstance(expr, dict):
            return expr
        if len(expr) == 1:
            ((key, value),) = expr.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = _getatt_parts(value)
                return self.lookup(("GetAtt", logical_id, attribute))
            if key == "Fn::Join":
                separator, items = value
                return str(separator).join(str(item) for item in self(items))
            if key == "Fn::Select":
                index, items = value
                return self(items)[int(self(index))]
            if key == "Fn::Split":
                separator, text = value
                return str(self(text)).split(separator)
            if key == "Fn::Sub":
                return self._sub(value)
            if key.startswith("Fn::") or key == "Condition":
                raise UnresolvedError(f"unsupported intrinsic function {key}")
        return {key: self(value) for key, value in expr.items()}

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        resolved = {name: self(sub_expr) for name, sub_expr in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in resolved:
                return str(resolved[name])
            if name.startswith(PSEUDO_PREFIX):
                return str(self.ref(name))
            ref = _sub_reference(name)
            assert ref is not None
            return str(self.lookup(ref))

        return _SUB_VARIABLE.sub(replace, str(text))


def substitute(expr: Any, known: Callable[[Reference], tuple[bool, Any]]) -> Any:
    """Replace Ref/GetAtt nodes that ``known`` can answer with literal values; keep the rest."""
    if isinstance(expr, list):
        return [substitute(value, known) for value in expr]
    if not isinstance(expr, dict):
        return expr
    if len(expr) == 1:
        ((key, value),) = expr.items()
        ref: Reference | None = None
        if key == "Ref" and isinstance(value, str) and not value.startswith(PSEUDO_PREFIX):
            ref = ("Ref", value, "")
        elif key == "Fn::GetAtt":
            ref = ("GetAtt", *_getatt_parts(value))
        if ref is not None:
            found, literal = known(ref)
            return literal if found else expr
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], dict(value[1]))
            variables = {name: substitute(sub, known) for name, sub in variables.items()}
            for name in _SUB_VARIABLE.findall(text):
                ref = _sub_reference(name)
                if name not in variables and ref is not None:
                    found, literal = known(ref)
                    if found:
                        text = text.replace("${" + name + "}", str(literal))
            return {"Fn::Sub": [text, variables] if variables else text}
    return {key: substitute(value, known) for key, value in expr.items()}


# Variables that rewrite_references adds to an Fn::Sub for the expressions it substitutes.
_SUB_VALUE_PREFIX = "LocalValue"


def _simple_name(expr: Any) -> str | None:
    """``X`` for ``{"Ref": "X"}``, ``X.Attr`` for a GetAtt with literal parts, else None."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((key, value),) = expr.items()
        if key == "Ref" and isinstance(value, str):
            return value
        if key == "Fn::GetAtt" and (
            isinstance(value, str) or all(isinstance(part, str) for part in value)
        ):
            return ".".join(_getatt_parts(value))
    return None


def rewrite_references(expr: Any, replace: Callable[[Reference], Any]) -> Any:
    """Every Ref/GetAtt node (also inside Fn::Sub, pseudo parameters included) for which
    ``replace`` returns an expression is replaced by it; ``None`` keeps the node.

    In an Fn::Sub text a replacement that is a plain Ref/GetAtt is renamed in place; any other
    expression becomes a variable of the Fn::Sub.
    """
    if isinstance(expr, list):
        return [rewrite_references(value, replace) for value in expr]
    if not isinstance(expr, dict):
        return expr
    if len(expr) == 1:
        ((key, value),) = expr.items()
        ref: Reference | None = None
        if key == "Ref" and isinstance(value, str):
            ref = ("Ref", value, "")
        elif key == "Fn::GetAtt":
            ref = ("GetAtt", *_getatt_parts(value))
        if ref is not None:
            new = replace(ref)
            return expr if new is None else new
        if key == "Fn::Sub":
            return _rewrite_sub(value, replace)
    return {key: rewrite_references(value, replace) for key, value in expr.items()}


def _rewrite_sub(value: Any, replace: Callable[[Reference], Any]) -> dict[str, Any]:
    text, variables = (value, {}) if isinstance(value, str) else (value[0], dict(value[1]))
    variables = {name: rewrite_references(sub, replace) for name, sub in variables.items()}
    defined = set(variables)

    def rename(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in defined:
            return match.group(0)
        if "." in name and not name.startswith(PSEUDO_PREFIX):
            logical_id, attribute = name.split(".", 1)
            new = replace(("GetAtt", logical_id, attribute))
        else:
            new = replace(("Ref", name, ""))
        if new is None:
            return match.group(0)
        simple = _simple_name(new)
        if simple is not None:
            return "${" + simple + "}"
        index = len(variables)
        while f"{_SUB_VALUE_PREFIX}{index}" in variables or f"{_SUB_VALUE_PREFIX}{index}" in text:
            index += 1
        variables[f"{_SUB_VALUE_PREFIX}{index}"] = new
        return "${" + f"{_SUB_VALUE_PREFIX}{index}" + "}"

    text = _SUB_VARIABLE.sub(rename, str(text))
    return {"Fn::Sub": [text, variables] if variables else text}
