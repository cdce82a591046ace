"""Partner programs benchmark: Stripe webhooks that earn commissions against ones that do not.

As ``bench/stripe_webhooks.py`` (signed ``checkout.session.completed`` deliveries, each a
new buyer whose ``client_reference_id`` names a click: customer, lead, sale, counters, the
event stamped handled, one transaction), with two links of one workspace: a plain tracked
link and a partner's link of a program with a $5 flat lead reward and a 20% lifetime sale
reward, so each delivery on the partner's link also makes two commissions in that
transaction. Runs alternate plain, partner, three times, each with events of its own.
Afterwards every partner sale must have exactly one commission. Usage::

    .venv/bin/python bench/partner_stripe.py [--seconds 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HOST,
    SERVER_CPU,
    BenchError,
    Server,
    describe_machine,
    free_port,
    measure,
    note,
    running,
)
from redirect import VENV_BIN, cli, code_version, codeqr_env
from stripe_webhooks import (
    CONNECTIONS,
    EMAIL,
    PASSWORD,
    SLUG,
    STRIPE_LUA,
    connect_account,
    seed_clicks,
    write_events,
)
from track import Phase, count, phase

TARGET_RATIO = 0.8
TURNS = 3


def bench(seconds: int, work: Path) -> dict[str, Any]:
    data = work / "codeqr"
    data.mkdir()
    port = free_port()
    domain = f"{HOST}:{port}"
    env = codeqr_env(data, domain, "process")
    note("CodeQR: setting up a fresh instance with the CLI")
    cli(env, work, "users", "create", "--email", EMAIL, "--password", PASSWORD)
    workspace = ["workspaces", "create", "--name", "Bench", "--slug", SLUG, "--owner", EMAIL]
    cli(env, work, *workspace, "--plan", "business")
    token = str(cli(env, work, "keys", "create", "--workspace", SLUG)["key"])
    link = ["links", "create", "--workspace", SLUG, "--url", "https://example.com/pricing"]
    cli(env, work, *link, "--key", "plain", "--track-conversion")
    reward = ["program", "reward", "--workspace", SLUG]
    cli(env, work, *reward, "--event", "lead", "--type", "flat", "--amount", "500")
    cli(
        env,
        work,
        *reward,
        "--event",
        "sale",
        "--type",
        "percentage",
        "--amount",
        "20",
        "--lifetime",
    )
    hook = connect_account(env, work)
    db = data / "codeqr.db"
    per_run = max(10_000, seconds * 2_000)
    command = [str(VENV_BIN / "codeqr"), "serve", "--host", HOST, "--port", str(port)]
    url = str(hook["webhookUrl"])
    phases: dict[str, Phase] = {}
    cpu: dict[str, float] = {}
    with running(Server("CodeQR", command, work / "codeqr.log", env=env, cwd=work)) as server:
        server.wait_ready(port, "/plain")
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://{domain}", headers=auth, timeout=30) as api:
            made = api.post("/api/partners", json={"email": "partner@example.com"})
            if made.status_code != 201:
                raise BenchError(f"partner not created: {made.text}")
            body = {"partnerId": made.json()["id"], "url": "https://example.com/pricing"}
            made = api.post("/api/partners/links", json={**body, "key": "partner"})
            if made.status_code != 201:
                raise BenchError(f"partner link not created: {made.text}")
            partner_link = made.json()["id"]
        clicks = {
            name: seed_clicks(
                db, name, per_run * TURNS + 3_000, prefix={"plain": "l", "partner": "p"}[name]
            )
            for name in ("plain", "partner")
        }
        warm = work / "warm.tsv"
        write_events(warm, "warm", clicks["plain"][:3_000])
        measure(
            "warm-up",
            server,
            url,
            CONNECTIONS,
            3,
            "warm",
            script=STRIPE_LUA,
            script_args=(str(warm),),
        )
        for turn in range(TURNS):
            for name in ("plain", "partner"):
                key = f"{name}{turn + 1}"
                events = work / f"{key}.tsv"
                start = 3_000 + turn * per_run
                write_events(events, key, clicks[name][start : start + per_run])
                label = f"checkout.session.completed ({name} link) #{turn + 1}"
                note(f"{label}: {seconds} s")
                before = count(db, "SELECT COUNT(*) FROM sale_events")
                run = measure(
                    label,
                    server,
                    url,
                    CONNECTIONS,
                    seconds,
                    key,
                    patience=20,
                    script=STRIPE_LUA,
                    script_args=(str(events),),
                )
                if run.wrk.sent is not None and run.wrk.sent >= per_run:
                    raise BenchError("the run used up its distinct events: raise per_run")
                phases[key] = phase(run, count(db, "SELECT COUNT(*) FROM sale_events") - before)
                cpu[key] = run.server_cpu
        time.sleep(1)  # the last run's deliveries in flight when wrk stopped
        partner_sales = count(
            db, f"SELECT COUNT(*) FROM sale_events WHERE link_id = '{partner_link}'"
        )
        mismatched = count(
            db,
            "SELECT (SELECT COUNT(*) FROM sale_events s WHERE s.link_id = "
            f"'{partner_link}' AND (SELECT COUNT(*) FROM commissions c WHERE c.type = 'sale' "
            "AND c.event_id = s.id) != 1) + (SELECT COUNT(*) FROM commissions c WHERE "
            "c.type = 'sale' AND NOT EXISTS (SELECT 1 FROM sale_events s WHERE s.id = "
            f"c.event_id AND s.link_id = '{partner_link}'))",
        )
    return {
        "machine": asdict(describe_machine()),
        "code": code_version(),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "server_cpu": SERVER_CPU,
        "phases": {name: asdict(p) for name, p in phases.items()},
        "server_cpu_share": cpu,
        "partner_sales": partner_sales,
        "mismatched": mismatched,
    }


def main(argv: list[str] | None = None) -> int:
    from partner_track import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="codeqr-partner-stripe-") as tmp:
            result = bench(args.seconds, Path(tmp))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    text, ok = report(result, "Stripe checkout.session.completed deliveries ($5 lead reward too)")
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
