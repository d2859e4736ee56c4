"""Dashboard users (named, with roles and passwords) and their server-side sessions.

A session is a row keyed by the SHA-256 of a random token the browser keeps in an
HttpOnly cookie; it carries the CSRF token of that browser. Logging out deletes the
row, so a copied cookie is useless afterwards; a session unused for
``SESSION_IDLE_TIMEOUT`` or older than ``SESSION_MAX_AGE`` is refused and deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.passwords import hash_password_async, verify_password_async
from dialer.account.repository import AccountRepository, UserRepository
from dialer.account.schemas import UserCreate, UserUpdate
from dialer.audit import service as audit
from dialer.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthorized
from dialer.kit import clock, ids
from dialer.models import DashboardSession, Role, User

# A session's last_seen_at is written at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


class UserExists(Conflict):
    """That user name or e-mail is taken."""


class LoginFailed(Unauthorized):
    """Wrong user name, e-mail or password."""


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie; only its hash is stored
    csrf_token: str


@dataclass(frozen=True)
class ActiveSession:
    principal: Principal
    session_id: str
    csrf_token: str


def session_id_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(user: User) -> Principal:
    name = user.full_name or user.username
    return Principal(
        is_admin=user.role == Role.ADMIN,
        account_id=None if user.role == Role.ADMIN else user.account_id,
        role=Role(user.role),
        user_id=user.id,
        actor_name=f"{name} ({user.username})" if user.full_name else user.username,
    )


def _check_can_grant(principal: Principal, role: str) -> None:
    if role == Role.ADMIN and not principal.is_admin:
        raise PermissionDenied("only an admin can make another admin", field="role")


async def _user_of_account(
    session: AsyncSession, principal: Principal, account_id: str, user_id: str
) -> User:
    user = await UserRepository.from_session(session).get(user_id)
    if user is None or user.account_id != account_id:
        raise NotFound(f"user '{user_id}' not found", field="user_id")
    return user


async def _require_account(session: AsyncSession, principal: Principal, account_id: str) -> None:
    principal.check_account(account_id)
    if not await AccountRepository.from_session(session).exists(account_id):
        raise NotFound(f"account '{account_id}' not found", field="account_id")


async def list_users(
    session: AsyncSession, principal: Principal, account_id: str
) -> Sequence[User]:
    await _require_account(session, principal, account_id)
    principal.require("manage_users")
    return await UserRepository.from_session(session).list(account_id)


async def create_user(
    session: AsyncSession, principal: Principal, account_id: str, data: UserCreate
) -> User:
    await _require_account(session, principal, account_id)
    principal.require("manage_users")
    _check_can_grant(principal, data.role)
    repo = UserRepository.from_session(session)
    username = data.username.lower()
    email = data.email.lower() if data.email else None
    taken = await repo.taken(username, email, except_id=None)
    if taken:
        raise UserExists(f"that {taken.replace('username', 'user name')} is taken", field=taken)
    now = clock.now()
    user = User(
        id=ids.new_id("usr"),
        account_id=account_id,
        username=username,
        email=email,
        full_name=data.full_name,
        role=Role(data.role),
        password_hash=await hash_password_async(data.password),
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    repo.add(user)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent creation took the name
        raise UserExists("that user name or e-mail is taken", field="username") from None
    await audit.record(
        session,
        principal,
        account_id,
        "user.create",
        target_type="user",
        target_id=user.id,
        username=username,
        role=str(user.role),
    )
    return user


async def update_user(
    session: AsyncSession, principal: Principal, account_id: str, user_id: str, data: UserUpdate
) -> User:
    await _require_account(session, principal, account_id)
    principal.require("manage_users")
    user = await _user_of_account(session, principal, account_id, user_id)
    repo = UserRepository.from_session(session)
    changes: dict[str, object] = {}
    if user.role == Role.ADMIN and not principal.is_admin:
        raise PermissionDenied("only an admin can change an admin", field="user_id")
    if data.role is not None and data.role != user.role:
        _check_can_grant(principal, data.role)
        if user.id == principal.user_id:
            raise InvalidInput("you cannot change your own role", field="role")
        changes["role"] = data.role
        user.role = Role(data.role)
    if data.email is not None and data.email.lower() != user.email:
        email = data.email.lower()
        if await repo.taken("\0", email, except_id=user.id):
            raise UserExists("that e-mail is taken", field="email")
        changes["email"] = email
        user.email = email
    if data.full_name is not None and data.full_name != user.full_name:
        changes["full_name"] = data.full_name
        user.full_name = data.full_name
    if data.password is not None:
        changes["password"] = "changed"
        user.password_hash = await hash_password_async(data.password)
    ended = False
    if data.is_active is not None and data.is_active != user.is_active:
        if user.id == principal.user_id and not data.is_active:
            raise InvalidInput("you cannot deactivate yourself", field="is_active")
        changes["is_active"] = data.is_active
        user.is_active = data.is_active
        ended = not data.is_active
    if "role" in changes or "password" in changes:
        ended = True  # a demoted or re-keyed user logs in again
    if not changes:
        return user
    user.updated_at = clock.now()
    await session.flush()
    if ended:
        await repo.delete_sessions_of(user.id)
    action = "user.deactivate" if changes.get("is_active") is False else "user.update"
    await audit.record(
        session,
        principal,
        account_id,
        action,
        target_type="user",
        target_id=user.id,
        username=user.username,
        **{k: str(v) for k, v in changes.items()},
    )
    return user


async def log_in(
    session: AsyncSession,
    login: str,
    password: str,
    *,
    idle_timeout: timedelta,
    max_age: timedelta,
) -> tuple[User, OpenedSession]:
    """Check the password of the user named by user name or e-mail and open a session.

    Raises LoginFailed (401) without saying which part was wrong.
    """
    repo = UserRepository.from_session(session)
    user = await repo.by_login(login.strip().lower()[:320])
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise LoginFailed()
    now = clock.now()
    token = secrets.token_urlsafe(32)
    opened = OpenedSession(token=token, csrf_token=secrets.token_urlsafe(32))
    repo.add(
        DashboardSession(
            id=session_id_of(token),
            user_id=user.id,
            csrf_token=opened.csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=now + max_age,
        )
    )
    user.last_login_at = now
    await session.flush()
    # Forget this user's sessions that nobody will use again.
    await repo.delete_stale_sessions(now - idle_timeout, now)
    await audit.record(
        session,
        principal_of(user),
        user.account_id,
        "user.login",
        target_type="user",
        target_id=user.id,
    )
    return user, opened


async def resolve_session(
    session: AsyncSession, token: str, *, idle_timeout: timedelta
) -> tuple[ActiveSession | None, bool]:
    """The session of a cookie token and whether it needs touching, or (None, False)."""
    found = await UserRepository.from_session(session).session_with_user(session_id_of(token))
    if found is None:
        return None, False
    row, user = found
    now = clock.now()
    if not user.is_active or row.expires_at <= now or now - row.last_seen_at > idle_timeout:
        return None, False
    active = ActiveSession(principal_of(user), row.id, row.csrf_token)
    return active, now - row.last_seen_at >= TOUCH_EVERY


async def touch_session(session: AsyncSession, session_id: str) -> None:
    await UserRepository.from_session(session).touch_session(session_id, clock.now())


async def log_out(session: AsyncSession, active: ActiveSession) -> None:
    """End the session now: its cookie no longer works anywhere."""
    await UserRepository.from_session(session).delete_session(active.session_id)
    principal = active.principal
    user = await UserRepository.from_session(session).get(principal.user_id or "")
    if user is not None:
        await audit.record(
            session,
            principal,
            user.account_id,
            "user.logout",
            target_type="user",
            target_id=user.id,
        )
