"""Data and API catalogs: tables, columns and metrics from a dbt `manifest.json` and SQL DDL,
endpoints and schemas from OpenAPI specs — with their descriptions, as catalog rows and as
entities for the ER diagrams of `tack map`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from tack.context import ContextError


@dataclass
class Entity:
    """A table, model or schema: its columns and the entities its columns point at."""

    name: str
    columns: list[tuple[str, str]] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (column, target entity)
    description: str = ""
    location: str = ""


def _text(data: bytes, node: Any) -> str:
    return data[node.start_byte:node.end_byte].decode(errors="replace")


def ddl_entities(data: bytes, location: str = "") -> list[Entity]:
    """CREATE TABLE statements (columns, inline and table-level REFERENCES) via tree-sitter SQL."""
    from tack.context.symbols import _parser

    root = _parser("sql").parse(data).root_node
    entities: list[Entity] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type != "create_table":
            stack.extend(reversed(node.children))
            continue
        ref = next((c for c in node.children if c.type == "object_reference"), None)
        name_node = ref.child_by_field_name("name") if ref else None
        if name_node is None:
            continue
        entity = Entity(_text(data, name_node),
                        location=f"{location}#{node.start_point[0] + 1}")
        for defs in (c for c in node.children if c.type == "column_definitions"):
            for col in defs.children:
                if col.type == "column_definition":
                    cname = col.child_by_field_name("name")
                    ctype = col.child_by_field_name("type")
                    if cname is None:
                        continue
                    entity.columns.append((_text(data, cname),
                                           _text(data, ctype) if ctype else ""))
                    target = _reference(col)
                    if target is not None:
                        entity.refs.append((_text(data, cname), _text(data, target)))
                elif col.type == "constraints":
                    for con in col.children:
                        target = _reference(con)
                        cols = [c for c in con.children if c.type == "ordered_columns"]
                        if target is not None and cols:
                            entity.refs.append((_text(data, cols[0]).strip("() "),
                                                _text(data, target)))
        entities.append(entity)
    return entities


def _reference(node: Any) -> Any:
    """The referenced table's name node after a REFERENCES keyword, if any."""
    seen = False
    for child in node.children:
        if child.type == "keyword_references":
            seen = True
        elif seen and child.type == "object_reference":
            return child.child_by_field_name("name")
    return None


def ddl_rows(data: bytes, location: str) -> list[dict[str, str]]:
    rows = []
    for e in ddl_entities(data, location):
        rows.append({"kind": "table", "name": e.name, "location": e.location})
        for cname, ctype in e.columns:
            target = dict(e.refs).get(cname)
            rows.append({"kind": "column", "name": cname, "parent": e.name, "data_type": ctype,
                         "description": f"references {target}" if target else "",
                         "location": e.location})
    return rows


def _load_json_or_yaml(data: bytes, location: str) -> Any:
    try:
        if location.split("#")[0].endswith(".json"):
            return json.loads(data)
        return yaml.safe_load(data)
    except (ValueError, yaml.YAMLError) as exc:
        raise ContextError(f"catalog file {location} cannot be parsed ({exc}); fix it or "
                           "remove the catalog from the org manifest") from None


def dbt_entities(manifest: dict[str, Any]) -> list[Entity]:
    """Models, seeds, snapshots and sources; `relationships` tests become references."""
    entities: dict[str, Entity] = {}
    nodes = {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}
    for uid, node in sorted(nodes.items()):
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        columns = node.get("columns") or {}
        entities[uid] = Entity(
            node.get("alias") or node.get("name") or uid,
            [(c, str(v.get("data_type") or "")) for c, v in columns.items()],
            description=str(node.get("description") or ""),
            location=str(node.get("original_file_path") or ""))
    for node in (manifest.get("nodes") or {}).values():
        meta = node.get("test_metadata") or {}
        if node.get("resource_type") != "test" or meta.get("name") != "relationships":
            continue
        depends = (node.get("depends_on") or {}).get("nodes") or []
        kwargs = meta.get("kwargs") or {}
        attached = node.get("attached_node") or (depends[-1] if depends else None)
        targets = [d for d in depends if d != attached]
        if attached in entities and targets and targets[0] in entities:
            entities[attached].refs.append((str(kwargs.get("column_name") or ""),
                                            entities[targets[0]].name))
    return list(entities.values())


def dbt_rows(data: bytes, location: str) -> list[dict[str, str]]:
    manifest = _load_json_or_yaml(data, location)
    if not isinstance(manifest, dict):
        raise ContextError(f"{location} is not a dbt manifest.json (expected an object with "
                           "`nodes`); point the catalog at target/manifest.json")
    rows = []
    for e in dbt_entities(manifest):
        rows.append({"kind": "table", "name": e.name, "description": e.description,
                     "location": f"{location}"})
        columns: dict[str, Any] = {}
        for node in [*(manifest.get("nodes") or {}).values(),
                     *(manifest.get("sources") or {}).values()]:
            if (node.get("alias") or node.get("name")) == e.name:
                columns = node.get("columns") or {}
        for cname, ctype in e.columns:
            rows.append({"kind": "column", "name": cname, "parent": e.name, "data_type": ctype,
                         "description": str((columns.get(cname) or {}).get("description") or ""),
                         "location": location})
    for section in ("metrics", "semantic_models", "exposures"):
        for uid, node in sorted((manifest.get(section) or {}).items()):
            kind = section.rstrip("s").replace("semantic_model", "semantic model")
            rows.append({"kind": kind, "name": str(node.get("name") or uid),
                         "description": str(node.get("description") or node.get("label") or ""),
                         "data_type": str(node.get("type") or ""), "location": location})
    return rows


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def openapi_rows(data: bytes, location: str) -> list[dict[str, str]]:
    spec = _load_json_or_yaml(data, location)
    if not isinstance(spec, dict) or "paths" not in spec:
        raise ContextError(f"{location} is not an OpenAPI spec (no `paths`); point the catalog "
                           "at the openapi.yaml or openapi.json file")
    rows = []
    for route, ops in sorted((spec.get("paths") or {}).items()):
        for method, op in sorted((ops or {}).items()):
            if method in HTTP_METHODS and isinstance(op, dict):
                rows.append({"kind": "endpoint", "name": f"{method.upper()} {route}",
                             "parent": str(op.get("operationId") or ""),
                             "description": str(op.get("summary") or op.get("description")
                                                or ""), "location": location})
    schemas = (spec.get("components") or {}).get("schemas") or {}
    for name, schema in sorted(schemas.items()):
        rows.append({"kind": "schema", "name": name,
                     "description": str((schema or {}).get("description") or ""),
                     "location": location})
        for prop, body in sorted(((schema or {}).get("properties") or {}).items()):
            rows.append({"kind": "field", "name": prop, "parent": name,
                         "data_type": str((body or {}).get("type") or (body or {}).get("$ref")
                                          or ""),
                         "description": str((body or {}).get("description") or ""),
                         "location": location})
    return rows


PARSERS = {"dbt": dbt_rows, "ddl": ddl_rows, "openapi": openapi_rows}
