"""What ``/metrics`` costs the redirect: the plain counters it reads, timed alone.

    .venv/bin/python bench/metrics_counters.py

Every redirect pays ``self.redirects += 1`` at the top of ``Redirector.__call__`` (and a
repeat click ``self.dedupe_hits += 1``); every group-commit batch pays
``BatchStats.start``/``finish``. Each is timed here against the same loop without it, in
alternating rounds, and reported as nanoseconds per operation (the median of the rounds).
For scale: a redirect costs ~50 µs of CPU at ~20k redirects/s a core.
"""

from __future__ import annotations

import statistics
import timeit

from codeqr.kit.batchstats import BatchStats

ROUNDS = 15
NUMBER = 2_000_000


class Plain:
    """Stands in for ``Redirector``: an object with an attribute counter."""

    def __init__(self) -> None:
        self.redirects = 0

    def call(self) -> None:
        pass

    def counted(self) -> None:
        self.redirects += 1


def per_op(statement: str, setup: str, number: int, namespace: dict[str, object]) -> float:
    """Seconds per run of ``statement``, one round."""
    return timeit.timeit(statement, setup=setup, number=number, globals=namespace) / number


def added(with_: str, without: str, number: int, namespace: dict[str, object]) -> float:
    """Median over alternating rounds of (with - without), in nanoseconds."""
    deltas = []
    for _ in range(ROUNDS):
        a = per_op(with_, "", number, namespace)
        b = per_op(without, "", number, namespace)
        deltas.append((a - b) * 1e9)
    return statistics.median(deltas)


def main() -> None:
    """Print the added cost of each counter."""
    plain = Plain()
    stats = BatchStats()
    namespace: dict[str, object] = {"plain": plain, "stats": stats}
    redirect = added("plain.counted()", "plain.call()", NUMBER, namespace)
    batch = added(
        "stats.start(); stats.finish(32, 0, True)", "plain.call()", NUMBER // 4, namespace
    )
    print(f"redirect counter (self.redirects += 1 in a method): {redirect:.1f} ns a redirect")
    print(f"batch stats (start + finish, once per group commit): {batch:.1f} ns a batch")


if __name__ == "__main__":
    main()
