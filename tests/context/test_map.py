"""`tack map`: Mermaid module dependencies and entity relationships written to
docs/architecture/, and `--check` failing in CI when the code moved on."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, run_tack
from tests.context.org import make_repo

FILES = {
    "src/shop/orders/service.py": "from shop.billing.invoices import bill\n"
                                  "from ..catalog import items\n",
    "src/shop/orders/__init__.py": "",
    "src/shop/billing/invoices.py": "def bill() -> None: ...\n",
    "src/shop/billing/__init__.py": "",
    "src/shop/catalog/items.py": "ITEMS = []\n",
    "src/shop/catalog/__init__.py": "",
    "web/app/main.ts": "import { api } from '../lib/api';\n",
    "web/lib/api.ts": "export const api = 1;\n",
    "db/schema.sql": "CREATE TABLE customers (id INT PRIMARY KEY, email TEXT);\n"
                     "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT REFERENCES "
                     "customers(id), FOREIGN KEY (id) REFERENCES ledger (id));\n",
    "src/shop/models.py": (
        "from sqlalchemy import Column, ForeignKey, Integer\n"
        "from sqlalchemy.orm import DeclarativeBase, relationship\n"
        "from django.db import models\n"
        "from pydantic import BaseModel\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        "class Warehouse(Base):\n    __tablename__ = 'warehouses'\n"
        "    id = Column(Integer, primary_key=True)\n\n\n"
        "class Shipment(Base):\n    __tablename__ = 'shipments'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    warehouse_id = Column(Integer, ForeignKey('warehouses.id'))\n\n\n"
        "class Supplier(models.Model):\n    name = models.CharField(max_length=80)\n\n\n"
        "class Product(models.Model):\n"
        "    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE)\n\n\n"
        "class Address(BaseModel):\n    city: str\n\n\n"
        "class Person(BaseModel):\n    name: str\n    home: Address\n"),
}


def test_map_writes_dependencies_and_entities_and_check_catches_drift(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", FILES)
    done = run_tack("map", cwd=repo)
    assert done.returncode == 0, done.stderr
    deps = (repo / "docs/architecture/dependencies.md").read_text()
    assert "```mermaid\ngraph LR" in deps
    assert 'n_src_shop_orders --> n_src_shop_billing' in deps
    assert 'n_src_shop_orders --> n_src_shop_catalog' in deps
    assert 'n_web_app --> n_web_lib' in deps
    entities = (repo / "docs/architecture/entities.md").read_text()
    assert "erDiagram" in entities
    for edge in ['orders }o--|| customers : "customer_id"', 'orders }o--|| ledger : "id"',
                 'Shipment }o--|| Warehouse : "warehouse_id"',
                 'Product }o--|| Supplier : "supplier"', 'Person }o--|| Address : "home"']:
        assert edge in entities, edge
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "diagrams")
    assert run_tack("map", "--check", cwd=repo).returncode == 0
    (repo / "src/shop/catalog/items.py").write_text("from shop.billing import invoices\n")
    stale = run_tack("map", "--check", cwd=repo)
    assert stale.returncode == 1
    assert "docs/architecture/dependencies.md" in stale.stderr
    assert "entities.md" not in stale.stderr and "run `tack map`" in stale.stderr
