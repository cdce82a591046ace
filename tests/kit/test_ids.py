"""Click ids: time-ordered, random in their tail, never repeated across threads or a fork."""

from __future__ import annotations

import os
import threading

from codeqr.kit.ids import ALPHABET, click_id


def test_a_click_id_is_its_time_then_nine_random_characters() -> None:
    first, later = click_id(1_700_000_000_000), click_id(1_700_000_000_001)
    assert len(first) == len(later) == 16
    assert first[:7] < later[:7]
    assert all(c in ALPHABET for c in first + later)
    tails = {click_id(1_700_000_000_000)[7:] for _ in range(5000)}
    assert len(tails) == 5000  # the random part is drawn afresh for each id
    assert {c for tail in tails for c in tail} == set(ALPHABET)  # every character shows up


def test_threads_making_ids_at_once_never_share_one() -> None:
    made: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(made))

    def make(out: list[str]) -> None:
        start.wait()
        out.extend(click_id(1_700_000_000_000) for _ in range(3000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [one for out in made for one in out]
    assert len(set(every)) == len(every) == 24_000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    click_id(1_700_000_000_000)  # the parent has characters in hand when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids, then leave at once
        os.close(read)
        os.write(write, " ".join(click_id(1_700_000_000_000) for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {click_id(1_700_000_000_000) for _ in range(50)}
    assert len(child) == 50
    assert not child & parent


def test_a_click_id_tells_the_millisecond_it_was_made_at() -> None:
    from codeqr.kit.ids import click_id, click_ms

    for ms in (0, 1_772_229_600_123, 62**7 - 1):
        assert click_ms(click_id(ms)) == ms
    assert click_ms("short") is None
    assert click_ms("a_c0000000000001") is None  # "_" is not base62
