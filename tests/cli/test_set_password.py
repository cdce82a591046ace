"""``codeqr users set-password``: the way back from a lost password (issue 18), without
deleting the data directory; every sign-in of the user ends."""

from __future__ import annotations

import subprocess

from codeqr import migrate
from codeqr.auth import service as auth
from codeqr.settings import Settings
from codeqr.workspace import service as ws

from .test_commands import CODEQR, _env, run


def _signed_in(settings: Settings, email: str) -> str:
    """A dashboard session of the user: its token."""
    db = settings.database()
    try:
        migrate.upgrade(db.engine)
        with db.transaction() as session:
            return auth.start_session(session, ws.get_user_by_email(session, email)).token
    finally:
        db.dispose()


def _check(settings: Settings, email: str, password: str, token: str) -> tuple[bool, bool]:
    """Whether ``password`` signs the user in, and whether session ``token`` still works."""
    db = settings.database()
    try:
        with db.transaction() as session:
            accepted = auth.authenticate(session, email, password) is not None
            alive = auth.resolve_session(session, token) is not None
            return accepted, alive
    finally:
        db.dispose()


def _set(settings: Settings, *args: str, given: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CODEQR, "users", "set-password", *args],
        env=_env(settings),
        input=given,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_lost_password_is_replaced_from_standard_input(settings: Settings) -> None:
    run(settings, "users", "create", "--email", "ada@example.com", "--password", "forgotten one")
    token = _signed_in(settings, "ada@example.com")
    done = _set(settings, "--email", "Ada@Example.com", "--password-stdin", given="new secret 42\n")
    assert done.returncode == 0, done.stderr
    assert "Password set for ada@example.com; 1 sign-in(s) ended." in done.stdout
    assert "new secret 42" not in done.stdout + done.stderr
    assert _check(settings, "ada@example.com", "new secret 42", token) == (True, False)
    assert _check(settings, "ada@example.com", "forgotten one", token)[0] is False


def test_the_password_is_asked_twice_when_not_piped(settings: Settings) -> None:
    run(settings, "users", "create", "--email", "bo@example.com", "--password", "forgotten one")
    token = _signed_in(settings, "bo@example.com")
    done = _set(settings, "--email", "bo@example.com", given="typed twice\ntyped twice\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _check(settings, "bo@example.com", "typed twice", token) == (True, False)


def test_refusals_say_why_and_change_nothing(settings: Settings) -> None:
    run(settings, "users", "create", "--email", "cy@example.com", "--password", "kept as it is")
    token = _signed_in(settings, "cy@example.com")
    short = _set(settings, "--email", "cy@example.com", "--password-stdin", given="short\n")
    assert short.returncode == 1
    assert "password: must be at least 8 characters" in short.stderr
    unknown = _set(settings, "--email", "nobody@example.com", "--password-stdin", given="x" * 9)
    assert unknown.returncode == 1
    assert "User nobody@example.com not found." in unknown.stderr
    assert _check(settings, "cy@example.com", "kept as it is", token) == (True, True)
