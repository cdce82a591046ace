"""``codeqr domains verify``: a custom domain's DNS checked against the instance's host, with
a resolver of the test's own (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from codeqr import migrate
from codeqr.cli.domains import domains_app
from codeqr.kit.db import Database
from codeqr.kit.ids import new_id
from codeqr.link.models import Domain
from codeqr.settings import Settings
from codeqr.workspace import service as ws

PUBLIC = "links.codeqr.example"
DNS = {
    PUBLIC: frozenset({"203.0.113.7", "2001:db8::7"}),
    "go.pointed.example": frozenset({"203.0.113.7"}),  # a CNAME to PUBLIC, resolved
    "go.elsewhere.example": frozenset({"198.51.100.1"}),
    "localhost": frozenset({"127.0.0.1"}),
}


def fake_resolver(name: str) -> frozenset[str]:
    return DNS.get(name, frozenset())


@pytest.fixture
def instance(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test's database with one workspace holding three domains; ``codeqr`` configured
    to serve at https://links.codeqr.example."""
    monkeypatch.setenv("CODEQR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CODEQR_PUBLIC_URL", f"https://{PUBLIC}")
    if settings.database_url:
        monkeypatch.setenv("CODEQR_DATABASE_URL", settings.database_url)
    settings.ensure_data_dir()
    db = Database(settings.sqlalchemy_url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        user = ws.create_user(session, "ops@example.com", "correct horse battery")
        workspace = ws.create_workspace(session, name="Ops", slug="ops", owner=user, plan="free")
        for slug in ("go.pointed.example", "go.elsewhere.example", "go.nowhere.example"):
            session.add(Domain(id=new_id("dom"), workspace_id=workspace.id, slug=slug))
    return db


def verified(db: Database, slug: str) -> bool:
    with db.transaction() as session:
        return bool(session.scalar(select(Domain.verified).where(Domain.slug == slug)))


def test_a_domain_that_points_here_is_verified(instance: Database) -> None:
    result = CliRunner().invoke(domains_app(fake_resolver), ["verify", "GO.Pointed.example"])
    assert result.exit_code == 0, result.output
    assert "verified: go.pointed.example points at this instance." in result.stdout
    assert verified(instance, "go.pointed.example")
    instance.dispose()


def test_a_domain_elsewhere_is_not_and_says_which_record_to_set(instance: Database) -> None:
    runner = CliRunner()
    result = runner.invoke(domains_app(fake_resolver), ["verify", "go.elsewhere.example"])
    assert result.exit_code == 1
    assert "go.elsewhere.example resolves to 198.51.100.1" in result.stdout
    assert f"CNAME go.elsewhere.example → {PUBLIC}" in result.stdout
    assert not verified(instance, "go.elsewhere.example")

    result = runner.invoke(domains_app(fake_resolver), ["verify", "go.nowhere.example", "--json"])
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer == {
        "slug": "go.nowhere.example",
        "target": PUBLIC,
        "record": {"type": "CNAME", "name": "go.nowhere.example", "value": PUBLIC},
        "addresses": [],
        "targetAddresses": ["2001:db8::7", "203.0.113.7"],
        "verified": False,
    }
    instance.dispose()


def test_a_domain_that_moved_away_loses_its_verification(instance: Database) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(domains_app(fake_resolver), ["verify", "go.pointed.example"]).exit_code == 0
    )
    moved = {**DNS, "go.pointed.example": frozenset({"198.51.100.9"})}
    result = runner.invoke(
        domains_app(lambda n: moved.get(n, frozenset())), ["verify", "go.pointed.example"]
    )
    assert result.exit_code == 1
    assert not verified(instance, "go.pointed.example")
    instance.dispose()


def test_an_unknown_domain_and_a_local_public_url(
    instance: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(domains_app(fake_resolver), ["verify", "go.unknown.example"])
    assert result.exit_code == 1
    assert "no workspace has the domain" in result.stderr
    monkeypatch.setenv("CODEQR_PUBLIC_URL", "http://localhost:8000")
    result = runner.invoke(domains_app(fake_resolver), ["verify", "go.pointed.example"])
    assert result.exit_code == 1
    assert "localhost is a local address; set CODEQR_PUBLIC_URL" in result.stdout
    instance.dispose()


def test_the_command_is_part_of_codeqr(instance: Database) -> None:
    # An unknown domain is refused before any name is resolved: no network needed.
    codeqr = str(Path(sys.executable).with_name("codeqr"))
    result = subprocess.run(
        [codeqr, "domains", "verify", "go.unknown.example"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no workspace has the domain 'go.unknown.example'" in result.stderr
    instance.dispose()
