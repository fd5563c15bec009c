"""Use cases for units, users, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from readiness import audit, throttle
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import LANGUAGES, ROLES, UNIT_KINDS, UNIT_SCOPED_ROLES, ApiToken, Unit, User
from readiness.passwords import check_new_password
from readiness.permissions import SystemActor, bureau_of, require, unit_ids_below

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$")
NAME_MAX = 100
PERSON_NAME_MAX = 60
HEADCOUNT_MAX = 100_000
# A modern memory-hard KDF. Tests swap in a cheap method to stay fast.
PASSWORD_METHOD = "scrypt"

UNIT_FIELDS = ("code", "name", "kind", "parent_id", "headcount", "is_active")
USER_FIELDS = ("username", "name", "role", "unit_id", "language", "is_active")


# ---------------------------------------------------------------- units


def _list_sep() -> str:
    # The separator between names in a sentence: 、 in Chinese, a comma in English.
    return _("、")


def get_unit(session: Session, code: str) -> Unit:
    """The unit with this code, or NotFound."""
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(_("单位代码 {code} 不存在。").format(code=code), field="code")
    return unit


def _check_unit_values(name: str, kind: str, headcount) -> None:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写单位名称。"), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(_("单位名称不能超过 {n} 个字。").format(n=NAME_MAX), field="name")
    if kind not in UNIT_KINDS:
        raise DomainError(_("未知的单位类型：{kind}。").format(kind=kind), field="kind")
    if isinstance(headcount, bool) or not isinstance(headcount, int):
        raise DomainError(_("警力/人数必须是整数。"), field="headcount")
    if headcount < 0:
        raise DomainError(_("警力/人数不能为负数。"), field="headcount")
    if headcount > HEADCOUNT_MAX:
        raise DomainError(_("警力/人数不能超过 {n}。").format(n=HEADCOUNT_MAX), field="headcount")


def _check_version(obj, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise Conflict(_("该记录已被他人修改，请刷新页面后重新操作。"))


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None,
    headcount: int,
    actor,
    permission: str = "units.manage",
) -> Unit:
    """Add a unit to the tree. Administrators keep the tree; a feature package that adds
    units of its own (towns, shelter sites) names the permission that lets its users do so."""
    require(session, actor, permission, parent)
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise DomainError(
            _("单位代码只能由字母、数字、- 和 _ 组成，以字母或数字开头，最长 32 位。"),
            field="code",
        )
    _check_unit_values(name, kind, headcount)
    clash = session.scalar(select(Unit).where(func.lower(Unit.code) == code.lower()))
    if clash is not None:
        raise Conflict(
            _("单位代码 {code} 已被 {name} 使用。").format(code=clash.code, name=clash.name),
            field="code",
        )
    if parent is not None and not parent.is_active:
        raise DomainError(_("上级单位 {name} 已停用。").format(name=parent.name), field="parent")
    unit = Unit(code=code, name=name.strip(), kind=kind, parent=parent, headcount=headcount)
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor,
        "unit.create",
        unit,
        unit_id=unit.id,
        after=audit.snapshot(unit, UNIT_FIELDS),
    )
    return unit


def update_unit(
    session: Session,
    unit: Unit,
    *,
    name: str,
    kind: str,
    parent: Unit | None,
    headcount: int,
    actor,
    expected_version: int | None = None,
    permission: str = "units.manage",
) -> Unit:
    """Change a unit's name, kind, place in the tree or headcount. The code never changes."""
    require(session, actor, permission, unit)
    _check_version(unit, expected_version)
    _check_unit_values(name, kind, headcount)
    if parent is not None:
        if parent.id == unit.id or parent.id in unit_ids_below(session, unit.id):
            raise DomainError(_("不能把单位移到它自己或它的下级单位之下。"), field="parent")
        if not parent.is_active and parent.id != unit.parent_id:
            raise DomainError(
                _("上级单位 {name} 已停用。").format(name=parent.name), field="parent"
            )
    before = audit.snapshot(unit, UNIT_FIELDS)
    unit.name = name.strip()
    unit.kind = kind
    unit.parent = parent
    unit.headcount = headcount
    session.flush()
    after = audit.snapshot(unit, UNIT_FIELDS)
    if after != before:
        audit.record(
            session, actor, "unit.update", unit, unit_id=unit.id, before=before, after=after
        )
    return unit


def set_unit_active(
    session: Session,
    unit: Unit,
    is_active: bool,
    *,
    actor,
    expected_version: int | None = None,
    permission: str = "units.manage",
) -> Unit:
    """Deactivate a unit (it stays in the books) or bring it back."""
    require(session, actor, permission, unit)
    _check_version(unit, expected_version)
    if unit.is_active == is_active:
        return unit
    if not is_active:
        active_children = [c for c in unit.children if c.is_active]
        if active_children:
            raise Conflict(
                _("请先停用下级单位：{names}。").format(
                    names=_list_sep().join(c.name for c in active_children)
                )
            )
        active_users = [u for u in unit.users if u.is_active]
        if active_users:
            raise Conflict(
                _("该单位还有在用账号：{names}。请先调整或停用这些账号。").format(
                    names=_list_sep().join(u.display_name for u in active_users)
                )
            )
    elif unit.parent is not None and not unit.parent.is_active:
        raise Conflict(
            _("上级单位 {name} 已停用，请先启用上级单位。").format(name=unit.parent.name)
        )
    before = audit.snapshot(unit, UNIT_FIELDS)
    unit.is_active = is_active
    session.flush()
    audit.record(
        session,
        actor,
        "unit.activate" if is_active else "unit.deactivate",
        unit,
        unit_id=unit.id,
        before=before,
        after=audit.snapshot(unit, UNIT_FIELDS),
    )
    return unit


def unit_tree(session: Session, root_ids: set[int] | None = None) -> list[tuple[Unit, int]]:
    """Units in tree order with their depth; limited to the subtrees of ``root_ids`` if given."""
    units = list(session.scalars(select(Unit).order_by(Unit.code)))
    by_parent: dict[int | None, list[Unit]] = {}
    for u in units:
        by_parent.setdefault(u.parent_id, []).append(u)
    known = {u.id for u in units}
    if root_ids is None:
        roots = [u for u in units if u.parent_id is None or u.parent_id not in known]
    else:
        roots = [u for u in units if u.id in root_ids]
    out: list[tuple[Unit, int]] = []

    def walk(unit: Unit, depth: int) -> None:
        out.append((unit, depth))
        for child in by_parent.get(unit.id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return out


def visible_unit_ids(session: Session, user) -> set[int] | None:
    """Units this user may see: None means all of them.

    A user placed at the one unit everything else is under (a city's own deployment) sees
    all of them too: None, so that reports read everything instead of filtering by a list
    of every unit there is (issue 21: that list made the city's reports a third slower).
    That unit is recognised as the only unit without a parent (units form a tree: a move
    under one's own subtree is refused), without walking the tree at all."""
    if user.role in UNIT_SCOPED_ROLES:
        if not user.unit_id:
            return set()
        roots = session.scalars(select(Unit.id).where(Unit.parent_id.is_(None)).limit(2)).all()
        if roots == [user.unit_id]:
            return None
        return unit_ids_below(session, user.unit_id)
    return None


def bureau_unit_ids(session: Session, user) -> set[int] | None:
    """Units this user may name as the other side of their work (a warehouse to request
    from, a unit taking part in a drill): their reach and the rest of their own bureau.
    None means all of them (the administrator, the server's command line)."""
    reach = visible_unit_ids(session, user)
    if reach is None or user.unit_id is None:
        return reach
    return reach | unit_ids_below(session, bureau_of(session, user.unit_id))


def user_in_reach(session: Session, actor, user: User) -> bool:
    """May this actor read this account: the administrator any, others their own
    bureau's (an account without a unit, an administrator's, is outside every bureau)."""
    reach = visible_unit_ids(session, actor)
    return reach is None or user.unit_id in reach


# ---------------------------------------------------------------- users


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_("用户 {username} 不存在。").format(username=username), field="username")
    return user


def _check_role_unit(role: str, unit: Unit | None) -> None:
    if role not in ROLES:
        raise DomainError(_("未知的角色：{role}。").format(role=role), field="role")
    if role in UNIT_SCOPED_ROLES and unit is None:
        raise DomainError(_("除系统管理员外，每个账号都必须属于一个单位。"), field="unit")
    if unit is not None and not unit.is_active:
        raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="unit")
    if role == "keeper" and unit is not None and unit.kind not in ("warehouse", "shelter"):
        raise DomainError(_("仓库保管员只能属于仓库或避灾安置场所。"), field="unit")


def _check_person_name(name: str) -> str:
    name = (name or "").strip()
    if len(name) > PERSON_NAME_MAX:
        raise DomainError(_("姓名不能超过 {n} 个字。").format(n=PERSON_NAME_MAX), field="name")
    return name


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    unit: Unit | None,
    name: str = "",
    language: str = "zh",
    actor,
    password_policy: bool = True,
) -> User:
    """Open an account.

    A password chosen by an administrator on the users page must be changed by its owner
    at the first sign-in; one set on the server's command line (full trust) is final.
    ``password_policy=False`` is for the demo's published password only.
    """
    require(session, actor, "users.manage")
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise DomainError(_("用户名只能由字母、数字和 . _ - 组成，2 到 40 位。"), field="username")
    if session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise Conflict(_("用户名 {username} 已存在。").format(username=username), field="username")
    name = _check_person_name(name)
    _check_role_unit(role, unit)
    if password_policy:
        check_new_password(password, username=username)
    if language not in LANGUAGES:
        language = "zh"
    user = User(
        username=username,
        name=name,
        role=role,
        unit=unit,
        language=language,
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
        must_change_password=not isinstance(actor, SystemActor),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        user,
        unit_id=user.unit_id,
        after=audit.snapshot(user, USER_FIELDS),
    )
    return user


def update_user(
    session: Session,
    user: User,
    *,
    name: str,
    role: str,
    unit: Unit | None,
    actor,
    expected_version: int | None = None,
) -> User:
    """Change a user's name, role or unit (a post change); nobody changes their own post."""
    require(session, actor, "users.manage")
    _check_version(user, expected_version)
    moved = user.role != role or user.unit_id != (unit.id if unit else None)
    if moved and getattr(actor, "id", None) == user.id:
        raise PermissionDenied(_("不能修改自己的角色或所属单位，请由另一位管理员办理。"))
    name = _check_person_name(name)
    _check_role_unit(role, unit)
    before = audit.snapshot(user, USER_FIELDS)
    user.name = name
    user.role = role
    user.unit = unit
    user.version += 1
    if moved:
        # New powers take effect now: existing sessions must sign in again.
        user.session_version += 1
    session.flush()
    after = audit.snapshot(user, USER_FIELDS)
    if after != before:
        audit.record(
            session, actor, "user.update", user, unit_id=user.unit_id, before=before, after=after
        )
    return user


def set_user_active(
    session: Session, user: User, is_active: bool, *, actor, expected_version: int | None = None
) -> User:
    """Deactivate an account (sessions and tokens stop working at once) or restore it."""
    require(session, actor, "users.manage")
    _check_version(user, expected_version)
    if getattr(actor, "id", None) == user.id and not is_active:
        raise Conflict(_("不能停用自己的账号。"))
    if user.is_active == is_active:
        return user
    if is_active and user.unit is not None and not user.unit.is_active:
        raise Conflict(_("单位 {name} 已停用，请先调整该账号的单位。").format(name=user.unit.name))
    before = audit.snapshot(user, USER_FIELDS)
    user.is_active = is_active
    user.version += 1
    user.session_version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "user.activate" if is_active else "user.deactivate",
        user,
        unit_id=user.unit_id,
        before=before,
        after=audit.snapshot(user, USER_FIELDS),
    )
    return user


def reset_password(session: Session, user: User, new_password: str, *, actor) -> User:
    """Set a new password for someone else (administrator), ending their sessions.

    The owner must change it at the next sign-in: only they should know their password.
    """
    require(session, actor, "users.manage")
    if getattr(actor, "id", None) == user.id:
        raise PermissionDenied(_("请在“修改密码”页修改自己的密码。"))
    check_new_password(new_password, username=user.username)
    user.password_hash = generate_password_hash(new_password, method=PASSWORD_METHOD)
    user.session_version += 1
    user.must_change_password = not isinstance(actor, SystemActor)
    session.flush()
    audit.record(session, actor, "user.reset_password", user, unit_id=user.unit_id)
    return user


def change_own_password(
    session: Session, user: User, current_password: str, new_password: str
) -> User:
    """Change one's own password; other sessions of this user end."""
    require(session, user, "account.own")
    if not check_password_hash(user.password_hash, current_password or ""):
        raise DomainError(_("当前密码不正确。"), field="current_password")
    check_new_password(new_password, username=user.username, field="new_password")
    if new_password == current_password:
        raise DomainError(_("新密码不能与当前密码相同。"), field="new_password")
    user.password_hash = generate_password_hash(new_password, method=PASSWORD_METHOD)
    user.session_version += 1
    user.must_change_password = False
    session.flush()
    audit.record(session, user, "user.change_password", user, unit_id=user.unit_id)
    return user


def sign_out(session: Session, user: User) -> None:
    """End every session and remember-me cookie of this user, on every device."""
    user.session_version += 1
    session.flush()
    audit.record(session, user, "user.logout", user, unit_id=user.unit_id)


def set_language(session: Session, user: User, language: str) -> User:
    """Remember the user's language choice."""
    if language not in LANGUAGES:
        raise DomainError(_("不支持的语言。"), field="language")
    if user.language != language:
        before = {"language": user.language}
        user.language = language
        session.flush()
        audit.record(
            session,
            user,
            "user.set_language",
            user,
            unit_id=user.unit_id,
            before=before,
            after={"language": language},
        )
    return user


# ---------------------------------------------------------------- sign-in

_DUMMY_HASH = generate_password_hash("not-a-real-password")


class LoginRefused(DomainError):
    status = 401
    code = "unauthorized"


def login_refused() -> LoginRefused:
    """The one answer to every refused sign-in: unknown, wrong, throttled or deactivated."""
    return LoginRefused(_("用户名或密码不正确；多次失败后需等待几分钟再试。"))


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str | None,
    policy: throttle.Policy,
    now: datetime | None = None,
) -> User:
    """Check a username and password; repeated failures pause the address, account or both."""
    now = now or utcnow()
    keys = throttle.keys_for(address, username)
    if throttle.blocked_until(session, keys, now) is not None:
        # Refused without looking at the password, in the time a check takes. Not counted,
        # so a blocked address cannot keep extending the pause on the account.
        check_password_hash(_DUMMY_HASH, password or "")
        raise login_refused()
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is not None and password_ok and user.is_active:
        # This address has proved it knows the password: its own count starts again. The
        # address and account counts stay, or signing in to one's own account between
        # guesses would reset them.
        throttle.clear(session, keys["pair"])
        user.last_login_at = now
        session.flush()
        audit.record(session, user, "user.login", user, unit_id=user.unit_id)
        return user
    # A deactivated account with the right password counts as a failure too: otherwise
    # the throttle would tell which passwords were right.
    blocks = throttle.record_failure(session, policy, address, username, now)
    if user is not None:
        reason = "account deactivated" if password_ok else "wrong password"
        audit.record(
            session,
            user,
            "user.login_failed",
            user,
            unit_id=user.unit_id,
            summary=f"{reason}; address {keys['ip'].removeprefix('ip:')}",
        )
    for block in blocks:
        audit.record(
            session,
            None,
            "login.throttle",
            object_type="login",
            object_id=(block.address if block.kind == "ip" else block.username)[:40],
            unit_id=user.unit_id if user is not None and block.kind != "ip" else None,
            summary=_throttle_summary(block),
        )
    raise login_refused()


def _throttle_summary(block: throttle.Block) -> str:
    who = {
        "ip": f"address {block.address}",
        "pair": f"address {block.address} for username {block.username!r}",
        "account": f"username {block.username!r} from any address",
    }[block.kind]
    return f"{block.kind}: {who} blocked {block.minutes} min after {block.failures} failed sign-ins"


def user_for_session_id(session: Session, session_id: str) -> User | None:
    """The user a login cookie names, if the account is active and the cookie is current."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


# ---------------------------------------------------------------- API tokens

TOKEN_PREFIX = "rdy_"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, actor) -> str:
    """Create an API token; the token itself is shown once and never stored.

    Only its owner creates one (on their own page), or the server's command line:
    an administrator who could mint another user's token could act as that user.
    """
    if not isinstance(actor, SystemActor):
        require(session, actor, "account.own")
        if actor.id != user.id:
            raise PermissionDenied(_("API 令牌只能由本人创建。"))
        if user.must_change_password:
            raise PermissionDenied(_("请先修改密码。"))
    if not user.is_active:
        raise Conflict(_("该账号已停用，不能签发令牌。"))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=_hash_token(token), prefix=token[:12])
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "token.issue",
        row,
        unit_id=user.unit_id,
        after={"user": user.username, "prefix": row.prefix},
    )
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning this token, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    # the owner alone, found through a token in force: one query and one object for every
    # API request (issue 21)
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _hash_token(token),
            ApiToken.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    )


def revoke_tokens(session: Session, user: User, *, actor, token_id: int | None = None) -> int:
    """Revoke every token of a user (administrator or owner), or one of the owner's own.

    Returns how many were revoked.
    """
    if getattr(actor, "id", None) == user.id:
        require(session, actor, "account.own")
    else:
        require(session, actor, "users.manage")
    rows = [t for t in user.tokens if t.revoked_at is None and token_id in (None, t.id)]
    for row in rows:
        row.revoked_at = utcnow()
    if rows:
        session.flush()
        audit.record(
            session,
            actor,
            "token.revoke",
            user,
            unit_id=user.unit_id,
            summary=f"{len(rows)} token(s)",
        )
    return len(rows)
