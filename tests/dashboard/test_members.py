"""Members: invitations by link, accepting them (signed in or with a new account), roles,
removal, the last owner, renaming a workspace and creating one, and the Usage tab."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from codeqr.kit.clock import utcnow
from codeqr.kit.ids import new_id
from codeqr.partner.models import Partner
from codeqr.workspace import members as team
from codeqr.workspace import service as ws
from codeqr.workspace.models import Membership, Role, Workspace, WorkspaceInvite
from tests.auth.helpers import csrf_of
from tests.conftest import LiveServer

from .helpers import Dash, dash, join, viewer_of


def _invite(owner: Dash, role: str = "member") -> str:
    """A new invitation's link path, as the members tab shows it."""
    made = owner.post("/settings/members/invite", {"role": role}, owner.csrf("/settings/members"))
    assert made.status_code == 303, made.text
    page = owner.client.get(made.headers["location"]).text
    assert "Invitation created" in page
    links = re.findall(r'<code class="token invite-url">[^<]*?(/app/invite/[^<]+)</code>', page)
    assert links, page
    return links[0]


def _role(server: LiveServer, workspace_id: str, user_id: str) -> str | None:
    with server.services.db.transaction() as session:
        found = session.get(Membership, (user_id, workspace_id))
        return found.role if found else None


def test_an_invitation_link_joins_once_with_its_role(server: LiveServer) -> None:
    owner = dash(server)
    path = _invite(owner, "viewer")
    guest = dash(server)  # someone with an account of their own
    page = guest.client.get(path)
    assert page.status_code == 200
    assert "as <strong>viewer</strong>" in page.text
    joined = guest.client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert joined.status_code == 303, joined.text
    assert joined.headers["location"] == f"{owner.base}/settings/members?done=joined"
    assert _role(server, owner.account.workspace_id, guest.account.user_id) == "viewer"
    members = guest.client.get(joined.headers["location"]).text
    assert owner.account.email in members
    # Used: a second person gets the refusal page, and no membership.
    third = dash(server)
    again = third.client.get(path)
    assert again.status_code == 404
    assert "used or revoked" in again.text
    assert third.client.post(path, data={"csrf_token": guest.csrf()}).status_code in (403, 404)
    assert _role(server, owner.account.workspace_id, third.account.user_id) is None
    # Accepting needs the session's own form token.
    fresh = _invite(owner)
    assert third.client.post(fresh, data={"csrf_token": "forged"}).status_code == 403
    assert _role(server, owner.account.workspace_id, third.account.user_id) is None


def test_a_new_account_from_an_invitation(server: LiveServer) -> None:
    owner = dash(server)
    path = _invite(owner, "member")
    visitor = server.client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Sign in to accept" in page.text
    assert f"/login?next={path}" in page.text
    token = csrf_of(page.text)
    short = visitor.post(
        path + "/signup", data={"csrf_token": token, "email": "n@example.com", "password": "short"}
    )
    assert short.status_code == 400
    assert "at least 8 characters" in short.text
    forged = visitor.post(
        path + "/signup",
        data={"csrf_token": "x", "email": "n@example.com", "password": "long enough pw"},
    )
    assert forged.status_code == 403
    taken = visitor.post(
        path + "/signup",
        data={"csrf_token": token, "email": owner.account.email, "password": "long enough pw"},
    )
    assert taken.status_code == 400
    assert "sign in to accept instead" in taken.text
    made = visitor.post(
        path + "/signup",
        data={"csrf_token": token, "email": "New.Person@example.com", "password": "long enough pw"},
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"{owner.base}/links"
    landed = visitor.get(made.headers["location"])  # signed in by the new session cookie
    assert landed.status_code == 200
    assert "new.person@example.com" in landed.text
    # The invitation is used up: nobody else signs up with it.
    other = server.client()
    assert other.get(path).status_code == 404


def test_expired_revoked_forged_and_bounded_invitations(server: LiveServer) -> None:
    owner = dash(server)
    expired = _invite(owner)
    with server.services.db.transaction() as session:
        session.execute(update(WorkspaceInvite).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert owner.client.get(expired).status_code == 404
    revoked = _invite(owner)
    with server.services.db.transaction() as session:
        invite_id = session.scalars(
            select(WorkspaceInvite.id).where(WorkspaceInvite.expires_at > utcnow())
        ).one()
    page = owner.get("/settings/members").text
    assert revoked in page
    off = owner.post(
        f"/settings/members/invites/{invite_id}/revoke", {}, owner.csrf("/settings/members")
    )
    assert off.status_code == 303
    assert revoked not in owner.client.get(off.headers["location"]).text
    assert server.client().get(revoked).status_code == 404
    # Forged or altered tokens name nothing.
    assert server.client().get(revoked[:-4] + "AAAA").status_code == 404
    assert server.client().get("/app/invite/" + "x" * 600).status_code == 422
    # At most MAX_PENDING_INVITES open at once.
    token = owner.csrf("/settings/members")
    for _ in range(team.MAX_PENDING_INVITES):
        assert owner.post("/settings/members/invite", {"role": "viewer"}, token).status_code == 303
    over = owner.post("/settings/members/invite", {"role": "viewer"}, token)
    assert over.status_code == 422
    assert "at most 20 open invitations" in over.text
    assert owner.post("/settings/members/invite", {"role": "admin"}, token).status_code == 422
    # Another workspace's invitation cannot be revoked from here.
    other = dash(server)
    assert (
        other.post(f"/settings/members/invites/{invite_id}/revoke", {}, other.csrf()).status_code
        == 404
    )


def test_roles_removal_and_the_last_owner(server: LiveServer) -> None:
    owner = dash(server)
    member = join(server, owner.account, Role.member)
    viewer = viewer_of(server, owner.account)
    ws_id = owner.account.workspace_id
    token = owner.csrf("/settings/members")
    page = owner.get("/settings/members").text
    assert member.account.email in page
    assert viewer.account.email in page
    # Only owners manage members: members and viewers get 403.
    for who in (member, viewer):
        answer = who.post(
            f"/settings/members/{owner.account.user_id}/role", {"role": "viewer"}, who.csrf()
        )
        assert answer.status_code == 403
        assert (
            who.post("/settings/members/invite", {"role": "owner"}, who.csrf()).status_code == 403
        )
    assert _role(server, ws_id, owner.account.user_id) == "owner"
    # The last owner can neither step down nor leave.
    alone = owner.post(f"/settings/members/{owner.account.user_id}/role", {"role": "member"}, token)
    assert alone.status_code == 403
    assert "needs an owner" in alone.text
    assert (
        owner.post(f"/settings/members/{owner.account.user_id}/remove", {}, token).status_code
        == 403
    )
    assert _role(server, ws_id, owner.account.user_id) == "owner"
    # Promote the member: then the first owner can step down.
    assert (
        owner.post(
            f"/settings/members/{member.account.user_id}/role", {"role": "owner"}, token
        ).status_code
        == 303
    )
    assert (
        owner.post(
            f"/settings/members/{owner.account.user_id}/role", {"role": "viewer"}, token
        ).status_code
        == 303
    )
    assert _role(server, ws_id, owner.account.user_id) == "viewer"
    # The new owner removes the viewer, who then no longer sees the workspace.
    removed = member.post(f"/settings/members/{viewer.account.user_id}/remove", {}, member.csrf())
    assert removed.status_code == 303
    assert _role(server, ws_id, viewer.account.user_id) is None
    assert viewer.get("/links").status_code == 404
    assert member.post("/settings/members/user_nobody/remove", {}, member.csrf()).status_code == 404
    assert (
        member.post(
            f"/settings/members/{owner.account.user_id}/role", {"role": "boss"}, member.csrf()
        ).status_code
        == 422
    )


def test_anyone_can_leave_but_the_last_owner(server: LiveServer) -> None:
    owner = dash(server)
    member = join(server, owner.account, Role.member)
    viewer = viewer_of(server, owner.account)
    ws_id = owner.account.workspace_id
    # Each sees a Leave button on their own row only; viewers see no Remove.
    page = viewer.get("/settings/members").text
    assert page.count('action="' + viewer.base + '/settings/members/leave"') == 1
    own_row = page.split(f'data-member="{viewer.account.user_id}"', 1)[1].split("</tr>", 1)[0]
    assert "/settings/members/leave" in own_row
    assert "/remove" not in page
    # A viewer and a member leave: redirected to /dashboard, gone from the workspace.
    for who in (viewer, member):
        left = who.post("/settings/members/leave", {}, who.csrf("/settings/members"))
        assert left.status_code == 303, left.text
        assert left.headers["location"] == "/dashboard"
        assert _role(server, ws_id, who.account.user_id) is None
        assert who.get("/links").status_code == 404
        # In no workspace now: the dashboard offers to create one.
        landing = who.client.get("/dashboard")
        assert landing.status_code == 200
        assert "No workspace yet" in landing.text
    # The last owner may not leave (403, the reason shown) and stays owner.
    alone = owner.post("/settings/members/leave", {}, owner.csrf("/settings/members"))
    assert alone.status_code == 403
    assert "needs an owner" in alone.text
    assert _role(server, ws_id, owner.account.user_id) == "owner"
    # A forged form token changes nothing.
    other = join(server, owner.account, Role.owner)
    forged = other.client.post(
        other.base + "/settings/members/leave", data={"csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert _role(server, ws_id, other.account.user_id) == "owner"
    # With a second owner, the first may leave.
    first = owner.post("/settings/members/leave", {}, owner.csrf("/settings/members"))
    assert first.status_code == 303
    assert _role(server, ws_id, owner.account.user_id) is None
    assert _role(server, ws_id, other.account.user_id) == "owner"


def test_an_account_in_no_workspace_creates_one(server: LiveServer) -> None:
    owner = dash(server)
    viewer = viewer_of(server, owner.account)
    left = viewer.post("/settings/members/leave", {}, viewer.csrf("/settings/members"))
    assert left.status_code == 303
    page = viewer.client.get("/dashboard")
    assert page.status_code == 200
    assert viewer.account.email in page.text
    token = csrf_of(page.text)
    # Refused with the reason beside its field, the values kept; nothing made.
    taken = viewer.client.post(
        "/dashboard/workspaces",
        data={"csrf_token": token, "new_ws_name": "Mine", "new_ws_slug": owner.account.slug},
    )
    assert taken.status_code == 409, taken.text
    assert 'id="e-new_ws_slug"' in taken.text
    assert 'value="Mine"' in taken.text
    nameless = viewer.client.post(
        "/dashboard/workspaces",
        data={"csrf_token": token, "new_ws_name": " ", "new_ws_slug": "fresh-slug"},
    )
    assert nameless.status_code == 422
    assert 'id="e-new_ws_name"' in nameless.text
    forged = viewer.client.post(
        "/dashboard/workspaces",
        data={"csrf_token": "forged", "new_ws_name": "Mine", "new_ws_slug": "mine-forged"},
    )
    assert forged.status_code == 403
    with server.services.db.transaction() as session:
        mine = session.scalars(
            select(Membership).where(Membership.user_id == viewer.account.user_id)
        ).all()
        assert mine == []
    # Made: the creator owns it and lands on its links.
    slug = "mine-" + new_id("x")[-6:].lower()
    made = viewer.client.post(
        "/dashboard/workspaces",
        data={"csrf_token": token, "new_ws_name": "Mine", "new_ws_slug": slug},
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"/dashboard/{slug}/links"
    assert viewer.client.get(made.headers["location"]).status_code == 200
    with server.services.db.transaction() as session:
        created = session.scalar(select(Workspace).where(Workspace.slug == slug))
        assert created is not None
        assert _role(server, created.id, viewer.account.user_id) == "owner"
    assert viewer.client.get("/dashboard").headers["location"] == f"/dashboard/{slug}/links"


def test_renaming_a_workspace_and_its_slug(server: LiveServer) -> None:
    owner = dash(server)
    member = join(server, owner.account, Role.member)
    token = owner.csrf("/settings")
    assert (
        member.post(
            "/settings/general", {"ws_name": "Mine", "ws_slug": owner.account.slug}, member.csrf()
        ).status_code
        == 403
    )
    bad = owner.post("/settings/general", {"ws_name": "Acme", "ws_slug": "Not A Slug!"}, token)
    assert bad.status_code == 400
    assert "lowercase letters" in bad.text
    other = dash(server)
    taken = owner.post(
        "/settings/general", {"ws_name": "Acme", "ws_slug": other.account.slug}, token
    )
    assert taken.status_code == 400
    assert "already in use" in taken.text
    new_slug = "acme-" + owner.account.slug[-8:]
    saved = owner.post("/settings/general", {"ws_name": "Acme Inc", "ws_slug": new_slug}, token)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/dashboard/{new_slug}/settings?done=general"
    page = owner.client.get(saved.headers["location"]).text
    assert "Acme Inc" in page
    assert owner.get("/links").status_code == 404  # the old slug's URLs are gone
    # Once partners were invited to the portal, whose links hold the slug, it stays.
    with server.services.db.transaction() as session:
        session.add(
            Partner(
                id=new_id("pn"),
                workspace_id=owner.account.workspace_id,
                email="p@example.com",
                name="P",
            )
        )
    locked = owner.client.post(
        f"/dashboard/{new_slug}/settings/general",
        data={"csrf_token": token, "ws_name": "Acme", "ws_slug": "acme-again"},
    )
    assert locked.status_code == 400
    assert "cannot change any more" in locked.text
    renamed = owner.client.post(
        f"/dashboard/{new_slug}/settings/general",
        data={"csrf_token": token, "ws_name": "Acme Two", "ws_slug": new_slug},
    )
    assert renamed.status_code == 303
    # The API keeps the same rule: the service refuses, whoever asks.
    with server.services.db.transaction() as session:
        workspace = session.get(Workspace, owner.account.workspace_id)
        assert workspace is not None
        key = ws.create_api_key(session, workspace, name="tests").token
    api = server.client(key)
    refused = api.patch(f"/api/workspaces/{new_slug}", json={"slug": "acme-again"})
    assert refused.status_code == 409, refused.text
    assert "cannot change any more" in refused.json()["error"]["message"]
    assert api.get(f"/api/workspaces/{new_slug}").json()["slug"] == new_slug


def test_creating_a_workspace(server: LiveServer) -> None:
    viewer = viewer_of(server, dash(server).account)  # any signed-in user may create one
    token = viewer.csrf("/settings")
    slug = "fresh-" + viewer.account.user_id[-8:].lower()
    made = viewer.post("/settings/workspaces", {"new_ws_name": "Fresh", "new_ws_slug": slug}, token)
    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"/dashboard/{slug}/links"
    assert viewer.client.get(made.headers["location"]).status_code == 200
    with server.services.db.transaction() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.slug == slug)).one()
        assert workspace.plan == server.services.settings.default_plan
        assert session.get(Membership, (viewer.account.user_id, workspace.id)).role == "owner"  # type: ignore[union-attr]
    again = viewer.post(
        "/settings/workspaces", {"new_ws_name": "Fresh", "new_ws_slug": slug}, token
    )
    assert again.status_code == 400
    assert "already in use" in again.text
    nameless = viewer.post(
        "/settings/workspaces", {"new_ws_name": " ", "new_ws_slug": slug + "x"}, token
    )
    assert nameless.status_code == 400
    assert (
        viewer.post(
            "/settings/workspaces", {"new_ws_name": "X", "new_ws_slug": "y"}, "forged"
        ).status_code
        == 403
    )


def test_usage_against_the_plan(server: LiveServer) -> None:
    owner = dash(server, plan="pro")
    token = owner.csrf()
    for n in range(3):
        owner.post("/links/new", {"url": f"https://example.com/{n}", "key": f"u{n}"}, token)
    page = owner.get("/settings/usage").text
    assert re.search(r'data-meter="New links">.*?3 of 1,000', page, re.S), page
    assert re.search(r'data-meter="Tracked events">.*?0 of 50,000', page, re.S)
    assert "The workspace holds 3 links." in page
