"""A fixture organisation: small real git repositories in several languages, a doc folder,
a dbt-style manifest, SQL DDL, an OpenAPI spec and the `context.yaml` that lists them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.conftest import git

BILLING: dict[str, str | bytes] = {
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary",
    "billing/invoices.py": (
        "from billing.money import Money\n\n\n"
        "class InvoiceRenderer:\n"
        "    \"\"\"Renders invoices as PDF (marker qz-invoice-77).\"\"\"\n\n"
        "    def render_invoice(self, invoice_id: int) -> bytes:\n"
        "        return Money(invoice_id).as_bytes()\n"),
    "billing/money.py": (
        "class Money:\n"
        "    def __init__(self, cents: int) -> None:\n"
        "        self.cents = cents\n\n"
        "    def as_bytes(self) -> bytes:\n"
        "        return str(self.cents).encode()\n"),
    "billing/__init__.py": "",
    "web/client.ts": (
        "import { formatCents } from './format';\n\n"
        "export class BillingClient {\n"
        "  fetchInvoice(id: number): Promise<string> { return fetch(`/invoices/${id}`)"
        ".then(r => r.text()); }\n"
        "}\n\n"
        "export interface InvoiceView { id: number; total: string }\n"),
    "web/format.ts": "export function formatCents(c: number): string { return (c / 100)"
                     ".toFixed(2); }\n",
    "db/schema.sql": (
        "CREATE TABLE customers (id INT PRIMARY KEY, email TEXT NOT NULL);\n"
        "CREATE TABLE invoices (\n  id INT PRIMARY KEY,\n"
        "  customer_id INT REFERENCES customers(id),\n  total_cents BIGINT\n);\n"),
    "api/openapi.yaml": (
        "openapi: 3.0.0\ninfo: {title: Billing, version: '1'}\n"
        "paths:\n  /invoices/{id}:\n    get:\n      operationId: getInvoice\n"
        "      summary: Fetch one invoice as PDF\n"
        "components:\n  schemas:\n    Invoice:\n      description: A customer's bill\n"
        "      properties:\n        total_cents: {type: integer, description: Amount due}\n"),
}

SERVICES: dict[str, str | bytes] = {
    "cmd/ledger/main.go": (
        "package main\n\nimport \"fmt\"\n\n"
        "type LedgerEntry struct{ Amount int }\n\n"
        "func (e LedgerEntry) Post() { fmt.Println(e.Amount) }\n\n"
        "func ReconcileLedger() {}\n"),
    "src/lib.rs": (
        "pub struct RateLimiter { tokens: u32 }\n\n"
        "impl RateLimiter {\n    pub fn try_acquire(&mut self) -> bool { self.tokens > 0 }\n}\n\n"
        "pub fn build_limiter() -> RateLimiter { RateLimiter { tokens: 5 } }\n"),
    "src/main/java/com/acme/Payments.java": (
        "package com.acme;\n\npublic class PaymentGateway {\n"
        "    public void chargeCard(String token) {}\n}\n"),
}

DBT_MANIFEST = {
    "nodes": {
        "model.shop.fct_orders": {
            "resource_type": "model", "name": "fct_orders",
            "description": "One row per order with revenue in cents.",
            "original_file_path": "models/fct_orders.sql",
            "columns": {"order_id": {"description": "Primary key", "data_type": "int"},
                        "customer_id": {"description": "Who ordered", "data_type": "int"},
                        "revenue_cents": {"description": "Gross revenue", "data_type": "bigint"}}},
        "model.shop.dim_customers": {
            "resource_type": "model", "name": "dim_customers",
            "description": "Customers with their first order date.",
            "columns": {"customer_id": {"description": "Primary key"}}},
        "test.shop.rel": {
            "resource_type": "test", "attached_node": "model.shop.fct_orders",
            "test_metadata": {"name": "relationships", "kwargs": {"column_name": "customer_id"}},
            "depends_on": {"nodes": ["model.shop.dim_customers", "model.shop.fct_orders"]}},
    },
    "metrics": {"metric.shop.weekly_revenue": {
        "name": "weekly_revenue", "description": "Revenue summed per ISO week.",
        "type": "simple"}},
}


def make_repo(path: Path, files: dict[str, str] | dict[str, str | bytes]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (path / rel).write_bytes(text)
        else:
            (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def sdist_repo(root: Path) -> Path | None:
    """A repository made from a real PyPI sdist (from pip's cache or the registry); None
    when it cannot be had offline."""
    # Shared by the tests of one machine: the sdist is fetched once.
    cache = Path(tempfile.gettempdir()) / "tack-test-sdists"
    cache.mkdir(exist_ok=True)
    try:
        if next(cache.glob("six-1.16.0.tar.gz"), None) is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                            ":all:", "-q", "-d", str(cache), "six==1.16.0"], check=True, capture_output=True,
                           timeout=60,
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    except (subprocess.SubprocessError, FileNotFoundError):
        return None
    archive = next(cache.glob("six-1.16.0.tar.gz"), None)
    if archive is None:
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(root / "unpacked", filter="data")
    unpacked = next((root / "unpacked").iterdir())
    repo = root / "six"
    shutil.copytree(unpacked, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sdist")
    return repo


def make_org(root: Path, *, with_sdist: bool = False) -> Path:
    """The org under `root`; returns the path of its `context.yaml`."""
    make_repo(root / "billing", BILLING)
    make_repo(root / "services", SERVICES)
    (root / "handbook").mkdir()
    (root / "handbook" / "oncall.md").write_text(
        "# On-call\n\nPage the payments team when the ledger reconciliation fails.\n")
    (root / "warehouse").mkdir()
    (root / "warehouse" / "manifest.json").write_text(json.dumps(DBT_MANIFEST))
    repos = [
        {"name": "billing", "path": "billing", "owner": "payments-team",
         "purpose": "Invoices, money and the billing API."},
        {"name": "services", "path": "services", "owner": "platform-team",
         "purpose": "Ledger, rate limiter and payment gateway services."},
    ]
    if with_sdist and sdist_repo(root) is not None:
        repos.append({"name": "six", "path": "six", "owner": "upstream",
                      "purpose": "Python 2 and 3 compatibility (real PyPI sdist)."})
    manifest = {
        "repos": repos,
        "docs": [{"name": "handbook", "path": "handbook", "owner": "sre",
                  "purpose": "Runbooks for on-call."}],
        "catalogs": [
            {"name": "warehouse", "kind": "dbt", "path": "warehouse/manifest.json",
             "owner": "data-team", "purpose": "The analytics warehouse (dbt)."},
            {"name": "billing-db", "kind": "ddl", "repo": "billing", "path": "db",
             "owner": "payments-team", "purpose": "Billing database schema."},
            {"name": "billing-api", "kind": "openapi", "repo": "billing",
             "path": "api/openapi.yaml", "owner": "payments-team", "purpose": "Billing API."},
        ],
    }
    import yaml

    path = root / "context.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path
