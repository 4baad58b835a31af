"""`tack skills add/remove/list/show/update/install/verify`: thin over tack.skills.installer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tack.skills.base import SkillError, read_skill
from tack.skills.installer import Installed, add, install, remove, update, verify
from tack.skills.lock import SkillsHome, read_lock
from tack.workflow.config import SkillsConfig

WorkflowOption = Annotated[Path, typer.Option("--workflow", "-w", help="Workflow file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

skills_app = typer.Typer(help="Install, pin and audit the skills of the agents Tack runs.",
                         no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(skills_app, name="skills")


def _context(workflow: Path) -> tuple[SkillsHome, SkillsConfig]:
    path = workflow.expanduser().absolute()
    if path.exists():
        from tack.workflow import load_workflow

        wf = load_workflow(path)
        return SkillsHome(wf.base_dir), wf.config.skills
    return SkillsHome(path.parent), SkillsConfig()


def _print_installed(items: list[Installed], verb: str) -> None:
    for item in items:
        locked, report = item.locked, item.report
        was = f" (was {item.previous[:12]})" if item.previous and \
            item.previous != locked.resolved else ""
        console.print(f"{verb} [bold]{locked.name}[/] {locked.resolved[:19]}{was} from "
                      f"{locked.source}: {report.files} files, {report.bytes} bytes")
        for script in report.scripts:
            console.print(f"  script {script.path} (runs with {script.interpreter})")
        for warning in report.warnings:
            console.print(f"  [yellow]warning[/]: {warning}")


@skills_app.command("add")
def add_cmd(source: Annotated[str, typer.Argument(help="Folder, git+URL@REF, REPO@TAG, "
                                                       "pypi:DIST, .whl, npm:PKG, .tgz, "
                                                       "tack:NAME.")],
            name: Annotated[str | None, typer.Option("--name", help="Only this skill of the "
                                                     "source.")] = None,
            workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Fetch, audit and install skills from SOURCE; record them in skills.lock."""
    home, config = _context(workflow)
    _print_installed(add(home, config, source, name), "added")


@skills_app.command("remove")
def remove_cmd(name: str, workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Uninstall a skill and drop it from skills.lock."""
    home, _ = _context(workflow)
    remove(home, name)
    console.print(f"removed {name}")


@skills_app.command("update")
def update_cmd(name: Annotated[str | None, typer.Argument()] = None,
               workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Re-resolve skills from their sources (a branch moves, a tag stays) and re-lock them."""
    home, config = _context(workflow)
    _print_installed(update(home, config, name), "updated")


@skills_app.command("install")
def install_cmd(frozen: Annotated[bool, typer.Option("--frozen", help="Fail on any "
                                                     "difference from skills.lock.")] = False,
                workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Install every skill of skills.lock at its locked version or commit."""
    home, config = _context(workflow)
    summary = install(home, config, frozen=frozen)
    console.print(f"{len(summary.installed)} installed, {len(summary.unchanged)} already "
                  f"up to date" + (f", re-locked: {', '.join(summary.relocked)}"
                                   if summary.relocked else "")
                  + (f", removed: {', '.join(summary.pruned)}" if summary.pruned else ""))


@skills_app.command("verify")
def verify_cmd(workflow: WorkflowOption = Path("WORKFLOW.md"), as_json: JsonOption = False
               ) -> None:
    """Check every installed file against skills.lock; exit 1 on any drift."""
    home, _ = _context(workflow)
    drifts = verify(home)
    if as_json:
        print(json.dumps([{"name": d.name, "problem": d.problem} for d in drifts]))
    else:
        for d in drifts:
            console.print(f"[red]drift[/] {d.name}: {d.problem}")
        if drifts:
            console.print("Run `tack skills install` to restore the locked files, or "
                          "`tack skills update NAME` to accept a change.")
        else:
            console.print(f"{len(read_lock(home.lock_path))} skills match {home.lock_path.name}")
    if drifts:
        raise typer.Exit(1)


@skills_app.command("list")
def list_cmd(workflow: WorkflowOption = Path("WORKFLOW.md"), as_json: JsonOption = False
             ) -> None:
    """The skills in skills.lock with their source and resolved version."""
    home, _ = _context(workflow)
    lock = read_lock(home.lock_path)
    if as_json:
        print(json.dumps([{"name": s.name, "source": s.source, "kind": s.kind,
                           "resolved": s.resolved, "hash": s.hash} for s in lock.values()]))
        return
    if not lock:
        console.print("No skills installed; add one with `tack skills add SOURCE`.")
        return
    table = Table("name", "kind", "resolved", "source", "description")
    for skill in lock.values():
        try:
            description = read_skill(home.installed(skill.name)).description
        except SkillError:
            description = "(not installed: run `tack skills install`)"
        table.add_row(skill.name, skill.kind, skill.resolved[:19], skill.source,
                      description[:80])
    console.print(table)


@skills_app.command("show")
def show_cmd(name: str, workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """A skill's lock entry, files and instructions."""
    home, _ = _context(workflow)
    lock = read_lock(home.lock_path)
    if name not in lock:
        raise SkillError(f"No skill named {name!r} in {home.lock_path}; `tack skills list` "
                         "shows the installed ones.", code="skill_not_found")
    skill = lock[name]
    console.print(f"[bold]{skill.name}[/]  {skill.kind} {skill.resolved}\nsource: "
                  f"{skill.source}\nhash: {skill.hash}\nfiles: {', '.join(skill.files)}\n")
    doc = read_skill(home.installed(name))
    console.print(doc.description + "\n")
    console.print(doc.body, markup=False)
