"""What a GraphQL selection asks of the engine: the ``keys`` to read and the
pointers to ``include``, computed from the class schemas so that every
pointer level is fetched by the engine's batched include (one query per
class and level), never per object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from bapp.graphql.sdl import GraphQLClass


@dataclass
class Merged:
    """The fields of one selection level, by response name, with the
    selection sets under them (fragments flattened)."""

    fields: dict[str, list[FieldNode]] = field(default_factory=dict)

    def by_name(self) -> dict[str, list[SelectionSetNode]]:
        out: dict[str, list[SelectionSetNode]] = {}
        for nodes in self.fields.values():
            for node in nodes:
                subs = out.setdefault(node.name.value, [])
                if node.selection_set:
                    subs.append(node.selection_set)
        return out


def merge(selection_sets: list[SelectionSetNode], fragments: dict[str, Any],
          type_names: set[str] | None = None) -> Merged:
    """Flattens fragments; ``type_names`` keeps only fragments on those types
    (None keeps every fragment)."""
    out = Merged()
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                key = sel.alias.value if sel.alias else sel.name.value
                out.fields.setdefault(key, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                if _applies(sel.type_condition, type_names):
                    walk(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                if _applies(fragment.type_condition, type_names):
                    seen.add(name)
                    walk(fragment.selection_set)
                    seen.discard(name)

    for selection_set in selection_sets:
        walk(selection_set)
    return out


def _applies(condition: Any, type_names: set[str] | None) -> bool:
    return condition is None or type_names is None or condition.name.value in type_names


def sub_selection(nodes: list[FieldNode], path: list[str], fragments: dict[str, Any]) -> list[SelectionSetNode]:
    """The selection sets found by following ``path`` (field names) below ``nodes``."""
    current = [n.selection_set for n in nodes if n.selection_set]
    for name in path:
        current = merge(current, fragments).by_name().get(name, [])
    return current


def sub_selection_of(selection_sets: list[SelectionSetNode], path: list[str],
                     fragments: dict[str, Any]) -> list[SelectionSetNode]:
    current = selection_sets
    for name in path:
        current = merge(current, fragments).by_name().get(name, [])
    return current


def wants(selection_sets: list[SelectionSetNode], fragments: dict[str, Any], *names: str) -> bool:
    """Whether any of ``names`` (dotted paths) is selected."""
    for name in names:
        parts = name.split(".")
        current = selection_sets
        for part in parts[:-1]:
            current = merge(current, fragments).by_name().get(part, [])
        if parts[-1] in merge(current, fragments).by_name():
            return True
    return False


class Plan:
    """Accumulates ``keys`` and ``include`` for one engine read."""

    def __init__(self, classes: dict[str, GraphQLClass], fragments: dict[str, Any]) -> None:
        self.classes = classes
        self.fragments = fragments
        self.keys: list[str] = []
        self.include: list[str] = []

    def add(self, c: GraphQLClass, selection_sets: list[SelectionSetNode], prefix: str = "") -> None:
        for name, subs in merge(selection_sets, self.fragments).by_name().items():
            if name == "__typename" or name == "authDataResponse":
                continue
            key = "objectId" if name == "id" else name
            path = prefix + key
            if path not in self.keys:
                self.keys.append(path)
            spec = c.fields.get(key) or {}
            kind = spec.get("type")
            target = self.classes.get(spec.get("targetClass") or "")
            if kind == "Pointer" and target is not None and subs:
                if path not in self.include:
                    self.include.append(path)
                self.add(target, subs, path + ".")
            elif kind == "Array" and subs:
                self._array(path, subs)

    def _array(self, path: str, subs: list[SelectionSetNode]) -> None:
        """Parse objects in an array are selected with inline fragments on their types."""
        for target in self.classes.values():
            picked = merge(subs, self.fragments, {target.name})
            own = merge(subs, self.fragments, set())
            if set(picked.fields) - set(own.fields):
                if path not in self.include:
                    self.include.append(path)
                self.add(target, [_as_set(picked)], path + ".")


def _as_set(merged: Merged) -> SelectionSetNode:
    return SelectionSetNode(selections=tuple(n for nodes in merged.fields.values() for n in nodes))


def plan_for(c: GraphQLClass, selection_sets: list[SelectionSetNode], classes: dict[str, GraphQLClass],
             fragments: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
    """(keys, include) for reading objects of ``c`` with this selection; keys
    None when nothing is selected (every key is read)."""
    plan = Plan(classes, fragments)
    plan.add(c, selection_sets)
    if any(k.split(".", 1)[0] == "authData" for k in plan.keys):
        # authData is stored per provider: a key selection cannot name it (as Parse Server).
        return None, plan.include
    return (plan.keys or None), plan.include
