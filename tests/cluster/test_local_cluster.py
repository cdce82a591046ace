"""The scale-out topology for real: two ``codeqr serve`` processes on PostgreSQL and Redis
behind Debian's nginx (round-robin), started by ``deploy/local-cluster.sh`` as an operator
would. Link edits, the click dedupe, rate limits and the live stream hold across processes.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from codeqr import migrate
from codeqr.events.models import click_events
from codeqr.kit.db import Database
from codeqr.workspace import service as ws
from tests.conftest import POSTGRES_URL, _drop_postgres, _postgres_database, free_block
from tests.redirect.helpers import CHROME_WINDOWS, browser_ua, cq_id_of
from tests.stream.helpers import EventStream

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster.sh"
REDIS_URL = os.environ.get("CODEQR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass
class Cluster:
    port: int
    database: Database

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port + n}"

    def stored(self, link_id: str) -> int:
        with self.database.engine.connect() as conn:
            query = select(func.count()).where(click_events.c.link_id == link_id)
            return int(conn.execute(query).scalar_one())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    assert POSTGRES_URL, "the cluster runs on PostgreSQL"
    url = _postgres_database()
    run = tmp_path_factory.mktemp("cluster")
    port = free_block(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEQR_")}
    env.update(
        CODEQR_DATABASE_URL=url,
        CODEQR_REDIS_URL=REDIS_URL,
        CODEQR_SECRET_KEY="cluster-test-secret",
        CODEQR_DATA_DIR=str(run / "data"),
        CODEQR_BIN=str(ROOT / ".venv" / "bin" / "codeqr"),
    )
    started = subprocess.run(
        [str(SCRIPT), "start", str(run), "--apps", "2", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    database = Database(url)
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield Cluster(port, database)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(run)], check=False, timeout=60)
        database.dispose()
        _drop_postgres(url)


def tenant(cluster: Cluster, plan: str = "business") -> str:
    """A workspace on ``plan`` and its secret key, made straight in the database."""
    suffix = os.urandom(4).hex()
    migrate.upgrade(cluster.database.engine)
    with cluster.database.transaction() as session:
        user = ws.create_user(session, f"u{suffix}@example.com", "correct horse battery")
        workspace = ws.create_workspace(
            session, name=suffix, slug=f"w{suffix}", owner=user, plan=plan
        )
        return ws.create_api_key(session, workspace).token


def visit(client: httpx.Client, key: str, ua: str = CHROME_WINDOWS) -> httpx.Response:
    return client.get(f"/{key}", headers={"User-Agent": ua})


def test_a_link_edit_and_delete_reach_every_process_within_a_second(cluster: Cluster) -> None:
    token = tenant(cluster)
    with (
        httpx.Client(base_url=cluster.base) as lb,
        httpx.Client(base_url=cluster.app(1), headers={"Authorization": f"Bearer {token}"}) as a,
    ):
        link = a.post("/api/links", json={"url": "https://old.example/", "key": "edit"}).json()
        # Through nginx, round-robin: both processes cache the link.
        assert {visit(lb, "edit").headers["location"] for _ in range(6)} == {"https://old.example/"}
        assert a.patch(f"/api/links/{link['id']}", json={"url": "https://new.example/"}).is_success
        edited = time.monotonic()
        while True:
            seen = {visit(lb, "edit", browser_ua(n)).headers["location"] for n in range(1, 7)}
            if seen == {"https://new.example/"}:
                break
            assert time.monotonic() - edited < 1.0, seen
        assert a.delete(f"/api/links/{link['id']}").is_success
        deleted = time.monotonic()
        while {visit(lb, "edit").status_code for _ in range(6)} != {404}:
            assert time.monotonic() - deleted < 1.0


def test_one_visitor_is_one_click_whichever_process_answers(cluster: Cluster) -> None:
    token = tenant(cluster)
    with (
        httpx.Client(base_url=cluster.base) as lb,
        httpx.Client(base_url=cluster.base, headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        link = api.post(
            "/api/links",
            json={"url": "https://shop.example/", "key": "dedupe", "trackConversion": True},
        ).json()
        ids = {cq_id_of(visit(lb, "dedupe").headers["location"]) for _ in range(20)}
        assert len(ids) == 1
        ids = {
            cq_id_of(visit(lb, "dedupe", browser_ua(n)).headers["location"]) for n in range(1, 21)
        }
        assert len(ids) == 20
        counted = api.get(f"/api/links/{link['id']}").json()["clicks"]
        assert (counted, cluster.stored(link["id"])) == (21, 21)


def test_rate_limits_count_the_calls_of_both_processes(cluster: Cluster) -> None:
    free, other = tenant(cluster, "free"), tenant(cluster, "free")
    with (
        httpx.Client(base_url=cluster.base, headers={"Authorization": f"Bearer {free}"}) as api,
        httpx.Client(base_url=cluster.base) as lb,
    ):
        link = api.post("/api/links", json={"url": "https://a.example/", "key": "rl"})
        assert link.status_code == 200
        answers = [api.get("/api/links") for _ in range(60)]
        assert [a.status_code for a in answers[:59]] == [200] * 59
        refused = answers[59]
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["x-ratelimit-limit"] == "60"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert int(refused.headers["retry-after"]) >= 1
        other_api = httpx.Client(
            base_url=cluster.base, headers={"Authorization": f"Bearer {other}"}
        )
        assert other_api.get("/api/links").status_code == 200
        other_api.close()
        # The redirect is never limited.
        assert {visit(lb, "rl", browser_ua(n)).status_code for n in range(200)} == {302}


def test_a_stream_on_one_process_sees_what_the_other_stored(cluster: Cluster) -> None:
    token = tenant(cluster)
    with httpx.Client(base_url=cluster.app(1), headers={"Authorization": f"Bearer {token}"}) as a:
        link = a.post(
            "/api/links",
            json={"url": "https://shop.example/", "key": "live", "trackConversion": True},
        ).json()
        process_b = SimpleNamespace(base=cluster.app(2), _clients=[])
        events = EventStream(process_b, headers={"Authorization": f"Bearer {token}"}).open()
        try:
            time.sleep(0.3)
            made = cq_id_of(visit(a, "live").headers["location"])
            answered = time.monotonic()
            message = events.next(3)
            assert message.id == made
            assert message.at - answered < 1.0
            assert link["id"]
        finally:
            events.close()
