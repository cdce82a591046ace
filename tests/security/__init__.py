"""The security suite that stays (issue 14): run it alone with

    .venv/bin/pytest tests/security

- ``test_isolation_matrix``: every route × every caller (``matrix.py``); a new route
  without a row fails;
- ``test_openapi_errors``: the OpenAPI documents each operation's error answers;
- ``test_schemathesis``: generated requests with a secret and with a publishable key, no 5xx
  and only documented statuses (``CODEQR_FUZZ_EXAMPLES`` for a longer hunt).

It runs in ``make test`` with the rest, on SQLite and on PostgreSQL.
"""
