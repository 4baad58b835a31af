"""Linear's published query-complexity rules, applied to a GraphQL document before it is
sent: each property costs 0.1 point, each object 1 point, and a connection multiplies the
points of everything under it by its `first` argument (50 when absent); the total is rounded
up. Linear refuses a single query above 10,000 points (linear.app/developers/rate-limiting).
"""

from __future__ import annotations

import math
from typing import Any

from graphql import (
    FieldNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)

LINEAR_MAX_COMPLEXITY = 10_000
DEFAULT_PAGE = 50
# Relay connections: a field whose children are `nodes`/`edges` (or which takes `first`).
_CONNECTION_CHILDREN = {"nodes", "edges"}


def complexity(query: str, variables: dict[str, Any] | None = None) -> int:
    """The points Linear charges for `query` with `variables`, rounded up."""
    document = parse(query)
    total = 0.0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += _selection_cost(definition.selection_set, variables or {})
    return math.ceil(round(total, 6))


def _selection_cost(selection: SelectionSetNode, variables: dict[str, Any]) -> float:
    cost = 0.0
    for node in selection.selections:
        if not isinstance(node, FieldNode):
            raise TypeError(f"fragments are not scored here: {node.kind}")
        cost += _field_cost(node, variables)
    return cost


def _field_cost(field: FieldNode, variables: dict[str, Any]) -> float:
    if field.selection_set is None:
        return 0.1
    children = _selection_cost(field.selection_set, variables)
    names = {f.name.value for f in field.selection_set.selections if isinstance(f, FieldNode)}
    first = _argument(field, "first", variables)
    if first is not None or names & _CONNECTION_CHILDREN:
        return 1 + (first if first is not None else DEFAULT_PAGE) * children
    return 1 + children


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != name:
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            value = variables.get(arg.value.name.value)
            return int(value) if value is not None else None
        raise AssertionError(f"`{name}` is neither a literal nor a variable")
    return None
