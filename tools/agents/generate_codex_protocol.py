"""Generate `src/tack/agents/codex_protocol.py` from the pinned Codex app-server schema.

The schema in `tools/agents/codex-schema/` is what the pinned `codex` CLI dumps
(`codex app-server generate-json-schema --experimental`), cut down to the messages Tack
sends, answers and reads. This script merges those files into one schema and runs
datamodel-code-generator over it, so the protocol types always match the tested CLI.

    .venv/bin/python tools/agents/generate_codex_protocol.py          # rewrite the module
    .venv/bin/python tools/agents/generate_codex_protocol.py --check  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "tools" / "agents" / "codex-schema"
TARGET = ROOT / "src" / "tack" / "agents" / "codex_protocol.py"
HEADER = '''"""Codex app-server protocol types, GENERATED from the pinned CLI's schema: do not edit.

Regenerate with `.venv/bin/python tools/agents/generate_codex_protocol.py` after
refreshing `tools/agents/codex-schema/` for a new pinned codex version.
"""
# tack: allow-file P006 because the module is generated from the protocol schema, one class per type
# A RootModel-typed field keeps its schema default as a plain value, which pydantic validates
# (`validate_default=True`) but mypy reads as a wrong assignment.
# mypy: disable-error-code="assignment"

'''


def merged_schema(schema_dir: Path = SCHEMA_DIR) -> dict[str, object]:
    """One draft-07 schema whose definitions are every message and everything they use."""
    definitions: dict[str, object] = {}
    roots: list[str] = []
    for path in sorted(schema_dir.rglob("*.json")):
        if path.name == "methods.json":
            continue
        data = json.loads(path.read_text())
        nested = data.pop("definitions", {}) or {}
        data.pop("$schema", None)
        name = path.stem
        for key, value in [*nested.items(), (name, data)]:
            if key in definitions and definitions[key] != value:
                raise SystemExit(f"{path}: definition {key} differs from another file's")
            definitions[key] = value
        roots.append(name)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "CodexProtocol",
        "type": "object",
        "properties": {name: {"$ref": f"#/definitions/{name}"} for name in roots},
        "definitions": definitions,
    }


def generate() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "codex.json"
        source.write_text(json.dumps(merged_schema(), sort_keys=True))
        out = Path(tmp) / "codex_protocol.py"
        subprocess.run(
            [sys.executable, "-m", "datamodel_code_generator", "--input", str(source),
             "--input-file-type", "jsonschema", "--output", str(out),
             "--output-model-type", "pydantic_v2.BaseModel", "--disable-timestamp",
             "--target-python-version", "3.11", "--use-standard-collections",
             "--use-union-operator", "--use-schema-description", "--use-title-as-name",
             "--field-constraints", "--use-annotated", "--deserialize-default-values", "enum"],
            check=True, capture_output=True, text=True,
        )
        body = out.read_text()
    # datamodel-codegen writes its own one-line header; keep ours instead.
    lines = body.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return HEADER + "".join(lines).lstrip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module is stale")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is stale; run "
                  "tools/agents/generate_codex_protocol.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
