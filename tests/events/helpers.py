"""Click rows made by hand, for tests that call the events store directly."""

from __future__ import annotations

from codeqr.events.store import Click


def stored_click(
    click_id: str, timestamp: int, workspace_id: str, link_id: str, identity: str = "i" * 32
) -> Click:
    """A click as the writer stores it, with empty place and device fields."""
    values: list[object] = [""] * len(Click._fields)
    values[:8] = [
        click_id,
        timestamp,
        workspace_id,
        link_id,
        "go.test",
        "k",
        "https://e.test/",
        "click",
    ]
    return Click(*values)._replace(identity_hash=identity, ip=None)
