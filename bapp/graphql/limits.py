"""Depth and size limits of a GraphQL document, checked right after parsing
(before validation and execution). Parse Server has none by default; bapp
turns them on (a deliberate safer deviation), with room for GraphiQL's
introspection query."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass
class GraphQLLimits:
    max_depth: int = 20  # nested field levels in one operation
    max_fields: int = 1_000  # field selections in one operation, fragments expanded
    max_tokens: int = 20_000  # lexer tokens in the document


class _Walker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, tuple[int, int]] = {}

    def measure(self, selection_set: SelectionSetNode | None, stack: tuple[str, ...] = ()) -> tuple[int, int]:
        """(depth, fields) of a selection set."""
        if selection_set is None:
            return 0, 0
        depth = 0
        count = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                sub_depth, sub_count = self.measure(sel.selection_set, stack)
                depth = max(depth, sub_depth + 1)
                count += sub_count + 1
            elif isinstance(sel, InlineFragmentNode):
                sub_depth, sub_count = self.measure(sel.selection_set, stack)
                depth, count = max(depth, sub_depth), count + sub_count
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in stack:
                    continue  # unknown or cyclic spreads are refused by validation
                if name not in self.memo:
                    self.memo[name] = self.measure(fragment.selection_set, (*stack, name))
                sub_depth, sub_count = self.memo[name]
                depth, count = max(depth, sub_depth), count + sub_count
        return depth, count


def check(document: DocumentNode, limits: GraphQLLimits) -> list[GraphQLError]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(fragments)
    out: list[GraphQLError] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        depth, count = walker.measure(definition.selection_set)
        if depth > limits.max_depth:
            out.append(GraphQLError(f"Query depth {depth} exceeds the limit of {limits.max_depth}.", definition))
        if count > limits.max_fields:
            out.append(GraphQLError(f"Query selects {count} fields, more than the limit of {limits.max_fields}.",
                                    definition))
    return out
