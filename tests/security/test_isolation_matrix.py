"""Every route × every caller (tests/security/matrix.py): the status each caller gets, and
that nothing of workspace A reaches anyone else (SPEC §2, §9).

One server and one pair of workspaces for the whole module; each cell is one request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from codeqr.link.service import RESERVED_KEYS
from tests.conftest import LiveServer

from .matrix import OUTSIDERS, PUBLISHABLE, ROWS, Call, Row, app_routes, cells
from .world import World


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base, follow_redirects=False, timeout=30) as client:
        yield client


def test_every_route_has_a_row(live: LiveServer) -> None:
    served = app_routes(live.app)
    table = {row.route for row in ROWS}
    missing = sorted(served - table)
    assert not missing, (
        f"routes without a row in tests/security/matrix.py (say what each caller gets): {missing}"
    )
    stale = sorted(table - served)
    assert not stale, f"rows of tests/security/matrix.py for routes the app lacks: {stale}"


def test_each_route_has_one_row() -> None:
    twice = [route for route, n in Counter(row.route for row in ROWS).items() if n > 1]
    assert not twice


def test_every_framework_route_is_reachable(live: LiveServer) -> None:
    """The dispatcher sends any first segment that is not reserved to the redirect: a
    route under another one would never be reached."""
    shadowed = []
    for route in iter_route_contexts(live.app.api.routes):
        path = str(route.path_format)
        first = path.strip("/").split("/", 1)[0].lower()
        if first and first not in RESERVED_KEYS:
            shadowed.append(path)
    assert not shadowed


def _send(http: httpx.Client, call: Call) -> tuple[int, str]:
    """The status and what a reader of the answer sees (body and Location)."""
    http.cookies.clear()  # a sign-in cell's cookie must not carry over to the next cell
    request = http.build_request(
        call.method,
        call.path,
        params=call.params,
        json=call.json,
        data=call.data,
        content=call.content,
        headers=dict(call.headers),
    )
    response = http.send(request, stream=True)
    try:
        if call.stream and response.status_code == 200:
            body = ""  # an event stream never ends: its status is the answer
        else:
            body = response.read().decode("utf-8", "replace")
    finally:
        response.close()
    return response.status_code, body + "\n" + response.headers.get("location", "")


def _read(http: httpx.Client, probe: tuple[str, str]) -> tuple[int, str]:
    path, token = probe
    answer = http.get(path, headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.text


def _cell_id(cell: tuple[Row, str]) -> str:
    row, caller = cell
    return f"{row.method} {row.path} [{caller}]"


@pytest.mark.parametrize("cell", cells(), ids=_cell_id)
def test_cell(http: httpx.Client, world: World, cell: tuple[Row, str]) -> None:
    row, caller = cell
    call = row.build(world, caller)
    before = _read(http, call.probe) if call.probe else None
    status, seen = _send(http, call)
    expected = row.expect[caller]
    assert status == expected, (
        f"{row.method} {row.path} as {caller}: {status}, expected {expected}: {seen[:400]}"
    )
    sent = call.sent()
    if not row.public and caller in OUTSIDERS:
        leaked = {
            name: value
            for name, value in world.a.markers().items()
            if value and value in seen and value not in sent
        }
        assert not leaked, f"{row.method} {row.path} as {caller} was shown A's {leaked}"
    if caller == PUBLISHABLE:
        shown = {n: v for n, v in world.a.pii().items() if v in seen and v not in sent}
        assert not shown, f"{row.method} {row.path}: a publishable key was shown {shown}"
    if call.probe:
        assert _read(http, call.probe) == before, f"{caller} changed A's {call.probe[0]}"
    if row.check:
        row.check(caller, seen)
