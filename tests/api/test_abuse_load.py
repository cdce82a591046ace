"""A flood from one client against everything an outsider can reach without a secret key:
sign-in, link passwords, client tracking and ``/api/qr``. The server refuses with 429s, and
its memory comes back (RSS within 20% of idle after the run)."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from PIL import Image

from codeqr import migrate
from codeqr.kit.db import Database
from codeqr.settings import Settings
from codeqr.workspace import service as ws
from codeqr.workspace.models import KeyKind
from tests.auth.helpers import csrf_of
from tests.conftest import free_port
from tests.events.test_durability import ServerProcess, _cli_env
from tests.redirect.helpers import CHROME_WINDOWS

pytestmark = pytest.mark.slow

ORIGIN = "http://www.shop.test"
PASSWORD = "correct horse battery"


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def seed(settings: Settings) -> tuple[str, str]:
    """An owner, a business workspace allowing ``www.shop.test``, a secret and a
    publishable key."""
    db = Database(settings.sqlalchemy_url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        user = ws.create_user(session, "owner@example.com", PASSWORD)
        workspace = ws.create_workspace(
            session, name="Shop", slug="shop", owner=user, plan="business"
        )
        workspace.allowed_hostnames = ["www.shop.test"]
        secret = ws.create_api_key(session, workspace).token
        public = ws.create_api_key(session, workspace, kind=KeyKind.publishable).token
    db.dispose()
    return secret, public


def logo_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), "#336699").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def flood(base: str, link: dict[str, str], public: str, rounds: int) -> Counter[str]:
    """``rounds`` of each abusive request, 16 at a time; the statuses seen per kind."""
    seen: Counter[str] = Counter()
    logo = logo_data_url()
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        form = await client.get("/login")
        token = csrf_of(form.text)
        gate = asyncio.Semaphore(16)

        async def one(kind: str, n: int) -> None:
            async with gate:
                if kind == "login":
                    answer = await client.post(
                        "/login",
                        data={
                            "email": "owner@example.com",
                            "password": f"guess {n}",
                            "csrf_token": token,
                        },
                    )
                elif kind == "password":
                    answer = await client.post(
                        f"/{link['key']}",
                        data={"password": f"guess {n}"},
                        headers={"User-Agent": CHROME_WINDOWS},
                    )
                elif kind == "track":
                    answer = await client.post(
                        "/api/track/click",
                        json={"domain": link["domain"], "key": link["key"]},
                        headers={
                            "Authorization": f"Bearer {public}",
                            "Origin": ORIGIN,
                            "User-Agent": CHROME_WINDOWS,
                        },
                    )
                else:
                    answer = await client.get(
                        "/api/qr",
                        params={"url": f"https://e.example/{n}", "size": 1000, "logo": logo},
                    )
                seen[f"{kind} {answer.status_code}"] += 1

        kinds = ("login", "password", "track", "qr")
        await asyncio.gather(*(one(kind, n) for n in range(rounds) for kind in kinds))
    return seen


def test_a_flood_from_one_client_gets_429s_and_memory_comes_back(
    settings: Settings, tmp_path: Path
) -> None:
    secret, public = seed(settings)
    port = free_port()
    server = ServerProcess(_cli_env(settings), port, tmp_path / "server.log", tmp_path)
    try:
        server.start()
        assert server.proc is not None
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as api:
            made = api.post(
                "/api/links",
                json={"url": "https://example.com/secret", "password": "open sesame"},
            )
            assert made.status_code == 200, made.text
            link = made.json()
        # Every path once, so that what it loads (argon2, Pillow, …) is in the idle figure.
        asyncio.run(flood(base, link, public, 1))
        time.sleep(0.5)
        idle = rss_kib(server.proc.pid)

        seen = asyncio.run(flood(base, link, public, 200))
        time.sleep(1.0)
        after = rss_kib(server.proc.pid)
        peak = rss_kib(server.proc.pid, "VmHWM")
        print(f"\nidle {idle} KiB, after {after} KiB, peak {peak} KiB; {dict(seen)}")
        for kind in ("login", "password", "track", "qr"):
            assert seen[f"{kind} 429"] > 0, (kind, seen)
            assert not any(k.startswith(kind) and k.endswith(("500", "503")) for k in seen), seen
        assert after <= idle * 1.2, (idle, after, peak)
    finally:
        server.stop()
