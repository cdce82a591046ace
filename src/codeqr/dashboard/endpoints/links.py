"""Links pages: list with search and counters, create, edit, delete, QR preview/download."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import StringConstraints

from codeqr.analytics.timeframe import Interval
from codeqr.api.deps import ServicesDep, SessionDep
from codeqr.dashboard import forms, link_list, link_view
from codeqr.dashboard import service as views
from codeqr.dashboard.deps import Page, PageError, ViewDep, WriteDep, not_found
from codeqr.dashboard.endpoints.analytics import INTERVALS
from codeqr.dashboard.forms import FormErrors, LinkForm
from codeqr.dashboard.link_list import BulkAction, Conversion, ListQuery, Sort
from codeqr.dashboard.pages import render
from codeqr.kit.errors import CodeQRError, NotFound
from codeqr.link.models import Link
from codeqr.link.service import MAX_BULK
from codeqr.qr import render as qr
from codeqr.services import Services

router = APIRouter(prefix="/dashboard/{slug}/links", include_in_schema=False)
LinkId = Annotated[str, Path(max_length=64)]
QR_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
_DONE = {
    "created": "Link created.",
    "saved": "Changes saved.",
    "deleted": "Link deleted. Its past clicks stay in analytics.",
    "bulk-archive": "Links archived.",
    "bulk-unarchive": "Links restored from the archive.",
    "bulk-delete": "Links deleted. Their past clicks stay in analytics.",
    "bulk-tag": "Tag added to the links.",
}
_FIELDS = set(forms.LINK_TEXT_FIELDS) | {"track_conversion"}
COLOUR = "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
QR_SIZES = [(300, "Small · 300 px"), (600, "Medium · 600 px"), (1000, "Large · 1000 px"),
            (2000, "Print · 2000 px")]  # fmt: skip


def _link(session: SessionDep, services: Services, page: Page, link_id: str) -> Link:
    found = services.links.find_one(session, page.workspace, link_id)
    if found is None:
        raise not_found("This link")
    return found


def _editor(
    session: SessionDep,
    services: Services,
    page: Page,
    *,
    link: Link | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
    tab: str = "edit",
    interval: Interval | None = None,
) -> HTMLResponse:
    """The new-link form, or a link's page: its analytics (``tab=overview``) or its editor."""
    out: Any = services.links.out(session, link) if link is not None else None
    extra: dict[str, Any] = {}
    if link is not None and tab == "overview":
        # The events list is a Business feature (as ``GET /api/events`` and the live page).
        extra["recent"] = (
            link_view.recent_events(
                session, services.reader, page.workspace, page.member.plan, link.id
            )
            if page.member.conversions
            else None
        )
    return render(
        "link_form.html" if link is None else "link_page.html",
        status=status,
        **page.context(
            "links",
            tab=tab,
            intervals=INTERVALS,
            request_interval=interval.value if interval else None,
            qr_sizes=QR_SIZES,
            **extra,
            link=out,
            values=values,
            errors=errors or {},
            domains=views.domains_of(session, services.links, page.workspace),
            default_domain=services.links.ctx.default_domain,
            archived=bool(link and link.archived),
            track_conversion=bool(link and link.track_conversion),
            notice=notice,
        ),
    )


@router.get("", response_class=HTMLResponse)
def list_links(
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[Sort, Query()] = Sort.created,
    tag: Annotated[str, Query(max_length=40)] = "",
    domain: Annotated[str, Query(max_length=190)] = "",
    conversion: Annotated[Conversion, Query()] = Conversion.any,
    days: Annotated[int, Query(ge=7, le=30)] = 30,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The workspace's links (newest first, or by clicks, last click or revenue), filtered
    by search, tag, domain and conversion tracking, each with a sparkline of its clicks."""
    if "\x00" in q + tag + domain:
        raise PageError(400, "Bad filter", "A filter cannot contain a NUL character.")
    query = ListQuery(
        search=q.strip(),
        sort=sort,
        tag=tag.strip(),
        domain=domain.strip().lower(),
        conversion=conversion,
        days=7 if days < 30 else 30,
        page=page_number,
    )
    found = link_list.links_list(session, services.links, page.workspace, query)
    return render("links.html", **page.context("links", links=found, notice=_DONE.get(done)))


@router.post("/bulk", response_model=None)
def bulk_links(
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
    action: Annotated[BulkAction, Form()],
    ids: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Form()] = [],  # noqa: B006
    tag_name: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """Archive, unarchive, delete or tag the selected links: every one of them, or (when one
    is refused) none. At most ``MAX_BULK`` ids in one post."""
    if len(ids) > MAX_BULK:
        raise PageError(
            400, "Too many links", f"Select at most {MAX_BULK} links for one bulk action."
        )
    try:
        count = link_list.bulk(session, services.links, page.workspace, action, ids, tag_name)
    except CodeQRError as exc:
        session.rollback()  # all or nothing
        status = 404 if isinstance(exc, NotFound) else 400
        raise PageError(status, "Nothing was changed", exc.message) from exc
    done = f"bulk-{action.value}"
    back_query = _safe_back(back)
    sep = "&" if back_query else ""
    return RedirectResponse(
        f"/dashboard/{page.slug}/links?{back_query}{sep}done={done}&n={count}", 303
    )


def _safe_back(back: str) -> str:
    """The list's own query string to return to, rebuilt from the parameters it knows."""
    allowed = ("q", "sort", "tag", "domain", "conversion", "days", "page")
    pairs = [(k, v) for k, v in parse_qsl(back.lstrip("?"))[:20] if k in allowed and len(v) < 200]
    return urlencode(pairs)


@router.get("/new", response_class=HTMLResponse)
def new_link(page: ViewDep, session: SessionDep, services: ServicesDep) -> HTMLResponse:
    """The form for a new link."""
    return _editor(session, services, page, link=None, values={})


@router.post("/new", response_model=None)
def create_link(
    form: Annotated[LinkForm, Form()], page: WriteDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Create the link, or show the form again with what to fix next to each field."""
    try:
        data = forms.link_create(form.model_dump())
        link = services.links.create(session, page.workspace, data, page.signed_in.user.id)
    except FormErrors as exc:
        errors = exc.errors
    except CodeQRError as exc:
        errors = forms.from_service(exc, _FIELDS, forbidden_field="track_conversion").errors
    else:
        return RedirectResponse(f"/dashboard/{page.slug}/links/{link.id}?done=created", 303)
    values = forms.link_values(form.model_dump())
    return _editor(session, services, page, link=None, values=values, errors=errors, status=400)


@router.get("/{link_id}", response_class=HTMLResponse)
def edit_link(
    link_id: LinkId,
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    done: Annotated[str, Query(max_length=20)] = "",
    tab: Annotated[str, Query(pattern="^(overview|edit)$")] = "overview",
    interval: Interval | None = None,
) -> HTMLResponse:
    """A link's page: its charts, funnel, latest events and top referers, with its QR code;
    the editor (read-only for viewers) on the second tab."""
    link = _link(session, services, page, link_id)
    values = forms.link_form_of(link)
    return _editor(
        session,
        services,
        page,
        link=link,
        values=values,
        notice=_DONE.get(done),
        tab=tab,
        interval=interval,
    )


@router.post("/{link_id}", response_model=None)
def update_link(
    link_id: LinkId,
    form: Annotated[LinkForm, Form()],
    page: WriteDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Save the editor's changes, or show what to fix."""
    link = _link(session, services, page, link_id)
    try:
        data = forms.link_update(form.model_dump())
        services.links.update(session, page.workspace, link, data)
    except FormErrors as exc:
        errors = exc.errors
    except CodeQRError as exc:
        errors = forms.from_service(exc, _FIELDS, forbidden_field="track_conversion").errors
    else:
        return RedirectResponse(f"/dashboard/{page.slug}/links/{link.id}?tab=edit&done=saved", 303)
    session.rollback()  # nothing half-applied is shown (or committed)
    link = _link(session, services, page, link_id)
    values = forms.link_values(form.model_dump())
    return _editor(session, services, page, link=link, values=values, errors=errors, status=400)


@router.get("/{link_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    link_id: LinkId, page: ViewDep, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """Ask before deleting a link."""
    link = services.links.out(session, _link(session, services, page, link_id))
    return render("link_delete.html", **page.context("links", link=link))


@router.post("/{link_id}/delete", response_model=None)
def delete_link(
    link_id: LinkId, page: WriteDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Delete the link; its recorded clicks stay in analytics."""
    services.links.delete(session, page.workspace, _link(session, services, page, link_id))
    return RedirectResponse(f"/dashboard/{page.slug}/links?done=deleted", 303)


@router.get("/{link_id}/qr.{fmt}", response_model=None)
def link_qr(
    link_id: LinkId,
    fmt: Annotated[str, Path(pattern="^(png|svg)$")],
    page: ViewDep,
    session: SessionDep,
    services: ServicesDep,
    size: Annotated[int, Query(ge=qr.MIN_SIZE, le=qr.MAX_SIZE)] = 600,
    download: bool = False,
    fg: Annotated[str, Query(max_length=7, pattern=COLOUR)] = "#000000",
    bg: Annotated[str, Query(max_length=7, pattern=COLOUR)] = "#ffffff",
    logo: bool = False,
) -> Response:
    """The link's QR code (it encodes ``shortLink?qr=1``), shown or downloaded, in the
    colours (``fg`` on ``bg``), size and with the logo chosen on the link's page."""
    link = _link(session, services, page, link_id)
    short = services.links.ctx.short_link(link.domain, link.key)
    image = qr.qr_image(
        short + "?qr=1",
        level="M",
        style=qr.Style(size=size, fg=qr.parse_color(fg, "fg"), bg=qr.parse_color(bg, "bg")),
        image_format=fmt,
        logo_url=link_view.logo_data_url() if logo else None,
    )
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if download:
        name = "qr-" + "".join(c if c.isalnum() else "-" for c in link.key)[:60]
        headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    if fmt == "svg":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return Response(image.body, media_type=QR_FORMATS[fmt], headers=headers)
