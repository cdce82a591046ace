"""Payout run benchmark: one run over 100,000 due commissions of 1,000 partners.

A fresh database (SQLite by default, PostgreSQL with ``--database-url``) gets a business
workspace, its program (holding 30 days, minimum $100.00), 1,000 partners and 100 pending
commissions each, all past the holding period; then ``payout.service.run`` (what
``codeqr payouts run`` and the payouts worker call) is timed in one transaction, commit
included. Every commission must end in exactly one payout of its partner. Usage::

    .venv/bin/python bench/payout_run.py [--partners 1000] [--per-partner 100]
        [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from codeqr import migrate
from codeqr.commission.models import Commission
from codeqr.kit.clock import utcnow
from codeqr.kit.ids import new_id
from codeqr.partner.models import Enrollment, Partner
from codeqr.payout import service as payouts
from codeqr.payout.models import Payout
from codeqr.program import service as programs
from codeqr.settings import Settings
from codeqr.workspace import service as ws

TARGET_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1_000)
    parser.add_argument("--per-partner", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="codeqr-payout-bench-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp) / "data",
            database_url=args.database_url,
            secret_key="bench-secret",
        )
        settings.ensure_data_dir()
        db = settings.database()
        migrate.upgrade(db.engine)
        old = utcnow() - timedelta(days=40)
        with db.transaction() as session:
            owner = ws.create_user(session, "bench@example.com", "bench-password-1")
            workspace = ws.create_workspace(
                session, name="Bench", slug="bench", owner=owner, plan="business"
            )
            program = programs.default_program(session, workspace)
            group = programs.default_group(session, program)
            workspace_id, program_id, group_id = workspace.id, program.id, group.id
        partner_ids = [new_id("pn") for _ in range(args.partners)]
        with db.transaction() as session:
            session.execute(
                insert(Partner),
                [
                    {
                        "id": pid,
                        "workspace_id": workspace_id,
                        "email": f"p{n}@example.com",
                        "name": f"P{n}",
                        "created_at": old,
                        "updated_at": old,
                    }
                    for n, pid in enumerate(partner_ids)
                ],
            )
            session.execute(
                insert(Enrollment),
                [
                    {
                        "id": new_id("pge"),
                        "workspace_id": workspace_id,
                        "program_id": program_id,
                        "partner_id": pid,
                        "group_id": group_id,
                        "status": "active",
                        "created_at": old,
                        "updated_at": old,
                    }
                    for pid in partner_ids
                ],
            )
        rows = []
        for n, pid in enumerate(partner_ids):
            for m in range(args.per_partner):
                rows.append(
                    {
                        "id": new_id("cm"),
                        "workspace_id": workspace_id,
                        "program_id": program_id,
                        "partner_id": pid,
                        "type": "sale",
                        "event_id": f"e{n}-{m}",
                        "amount": 10_000,
                        "earnings": 200 + (n + m) % 50,
                        "currency": "USD",
                        "quantity": 1,
                        "status": "pending",
                        "created_at": old + timedelta(seconds=m),
                        "updated_at": old,
                    }
                )
        with db.transaction() as session:
            for start in range(0, len(rows), 10_000):
                session.execute(insert(Commission), rows[start : start + 10_000])
        expected = dict.fromkeys(partner_ids, 0)
        for row in rows:
            expected[str(row["partner_id"])] += int(str(row["earnings"]))
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{len(rows):,} pending commissions of {args.partners:,} partners on {backend}")
        began = time.perf_counter()
        with db.transaction() as session:
            workspace = ws.get_workspace(session, "bench")
            done = payouts.run(session, workspace)
            made = len(done.payouts)
        took = time.perf_counter() - began
        with db.session() as session:
            amounts = dict(session.execute(select(Payout.partner_id, Payout.amount)).all())
            loose = session.scalar(
                select(func.count()).select_from(Commission).where(Commission.payout_id.is_(None))
            )
        db.dispose()
    correct = amounts == expected and loose == 0 and made == args.partners
    print(f"payout run: {made:,} payouts in {took:.2f} s (target < {TARGET_S:.0f} s)")
    print(f"every commission in exactly one payout of its partner: {'yes' if correct else 'NO'}")
    return 0 if correct and took < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
