"""The few HTML pages a visitor can meet on a short link: not found, expired, password."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f8fafc;"
    "color:#0f172a;display:flex;min-height:100vh;align-items:center;justify-content:center;"
    "margin:0;padding:1rem}main{background:#fff;border:1px solid #e2e8f0;border-radius:12px;"
    "padding:2rem;max-width:24rem;width:100%;box-shadow:0 1px 3px rgba(0,0,0,.06)}"
    "h1{font-size:1.25rem;margin:0 0 .5rem}p{color:#475569;margin:0 0 1rem}"
    "input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #cbd5e1;"
    "border-radius:8px;font-size:1rem}button{margin-top:.75rem;width:100%;padding:.6rem;"
    "border:0;border-radius:8px;background:#0f172a;color:#fff;font-size:1rem;cursor:pointer}"
    ".err{color:#b91c1c}"
)


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<meta name=robots content=noindex><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    ).encode()


NOT_FOUND = _page(
    "Link not found",
    "<h1>Link not found</h1><p>This short link does not exist. Check the address for typos.</p>",
)
EXPIRED = _page(
    "Link expired", "<h1>This link has expired</h1><p>Its owner set it to stop working.</p>"
)


def password_page(error: bool = False, *, limited: bool = False) -> bytes:
    """The form that asks for a link's password (after a wrong one, or too many)."""
    message = "<p class=err>Wrong password, try again.</p>" if error else ""
    if limited:
        message = "<p class=err>Too many attempts. Wait a minute, then try again.</p>"
    return _page(
        "Password required",
        "<h1>Password required</h1><p>This link is protected. Enter its password to continue."
        f"</p>{message}<form method=post><input type=password name=password autofocus "
        "required aria-label=Password placeholder=Password><button>Continue</button></form>",
    )
