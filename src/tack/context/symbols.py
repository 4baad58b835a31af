"""Symbols and imports from source files through tree-sitter (`tree-sitter-language-pack`).

One small query per language finds definitions (with the first line as the signature) and
import targets; identifiers feed the reference counts that rank `map`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Any

LANGUAGES = {
    ".py": "python", ".pyi": "python",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".go": "go", ".rs": "rust", ".java": "java", ".sql": "sql",
    ".md": "markdown", ".markdown": "markdown", ".rst": "text", ".txt": "text",
    ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml", ".c": "c", ".h": "c",
    ".html": "html", ".css": "css", ".sh": "shell",
}

_JS_DEFS = """
(function_declaration name: (identifier) @function)
(generator_function_declaration name: (identifier) @function)
(class_declaration name: (_) @class)
(method_definition name: (property_identifier) @method)
(variable_declarator name: (identifier) @function value: [(arrow_function) (function_expression)])
"""
_TS_DEFS = _JS_DEFS + """
(interface_declaration name: (type_identifier) @interface)
(type_alias_declaration name: (type_identifier) @type)
(enum_declaration name: (identifier) @enum)
(abstract_class_declaration name: (type_identifier) @class)
"""
_JS_IMPORTS = """
(import_statement source: (string (string_fragment) @import))
(call_expression function: (identifier) @_f arguments: (arguments (string (string_fragment) @import)))
"""

DEF_QUERIES = {
    "python": """
(function_definition name: (identifier) @function)
(class_definition name: (identifier) @class)
""",
    "javascript": _JS_DEFS,
    "typescript": _TS_DEFS,
    "tsx": _TS_DEFS,
    "go": """
(function_declaration name: (identifier) @function)
(method_declaration name: (field_identifier) @method)
(type_spec name: (type_identifier) @type)
""",
    "rust": """
(function_item name: (identifier) @function)
(struct_item name: (type_identifier) @struct)
(enum_item name: (type_identifier) @enum)
(trait_item name: (type_identifier) @trait)
(mod_item name: (identifier) @module)
(type_item name: (type_identifier) @type)
""",
    "java": """
(class_declaration name: (identifier) @class)
(interface_declaration name: (identifier) @interface)
(enum_declaration name: (identifier) @enum)
(record_declaration name: (identifier) @class)
(method_declaration name: (identifier) @method)
(constructor_declaration name: (identifier) @method)
""",
    "sql": """
(create_table (object_reference name: (identifier) @table))
(create_view (object_reference name: (identifier) @view))
(create_function (object_reference name: (identifier) @function))
(create_index (identifier) @index)
""",
}

IMPORT_QUERIES = {
    "python": """
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import)
""",
    "javascript": _JS_IMPORTS,
    "typescript": _JS_IMPORTS,
    "tsx": _JS_IMPORTS,
    "go": "(import_spec path: (interpreted_string_literal) @import)",
    "rust": "(use_declaration argument: (_) @import)",
    "java": "(import_declaration (scoped_identifier) @import)",
}

IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")
SIGNATURE_MAX = 160


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    line: int
    end_line: int
    signature: str


@dataclass
class FileFacts:
    symbols: list[Symbol]
    imports: list[str]
    identifiers: set[str]


def language_of(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    return LANGUAGES.get(suffix, "text")


@cache
def _parser(lang: str) -> Any:
    from tree_sitter_language_pack import get_parser

    return get_parser(lang)  # type: ignore[arg-type]


@cache
def _query(lang: str, source: str) -> Any:
    from tree_sitter import Query
    from tree_sitter_language_pack import get_language

    return Query(get_language(lang), source)  # type: ignore[arg-type]


def _captures(lang: str, source: str, root: Any) -> dict[str, list[Any]]:
    from tree_sitter import QueryCursor

    result: dict[str, list[Any]] = QueryCursor(_query(lang, source)).captures(root)
    return result


def extract(path: str, data: bytes) -> FileFacts:
    """Definitions, import targets and identifiers of one file (empty for other languages)."""
    lang = language_of(path)
    identifiers = {m.decode() for m in IDENT.findall(data)} if lang in DEF_QUERIES else set()
    if lang not in DEF_QUERIES:
        return FileFacts([], [], identifiers)
    root = _parser(lang).parse(data).root_node
    symbols = []
    for kind, nodes in _captures(lang, DEF_QUERIES[lang], root).items():
        for node in nodes:
            definition = node.parent if node.parent is not None else node
            if lang in ("sql",) or definition.type in ("object_reference", "variable_declarator"):
                definition = definition.parent or definition
            first = data[definition.start_byte:definition.end_byte].split(b"\n", 1)[0]
            symbols.append(Symbol(
                name=data[node.start_byte:node.end_byte].decode(errors="replace"),
                kind=kind, line=definition.start_point[0] + 1,
                end_line=definition.end_point[0] + 1,
                signature=first.decode(errors="replace").strip()[:SIGNATURE_MAX]))
    imports = []
    if lang in IMPORT_QUERIES:
        for capture, nodes in _captures(lang, IMPORT_QUERIES[lang], root).items():
            if capture != "import":
                continue
            for node in nodes:
                text = data[node.start_byte:node.end_byte].decode(errors="replace")
                imports.append(text.strip("\"'`"))
    symbols.sort(key=lambda s: (s.line, s.name))
    return FileFacts(symbols, imports, identifiers)
