"""Reads about the people who use Larder: login credentials, one user with roles, the user list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, bindparam, func, or_, select

from data.schema import Customer, SalesRep, User, UserRole


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    username: str
    name: str
    email: str
    active: bool
    roles: frozenset[str]
    customer_id: int | None
    sales_rep_id: int | None


@dataclass(frozen=True)
class LoginCredential:
    username: str
    name: str
    email: str
    password_hash: str
    roles: tuple[str, ...]


def _roles_of(conn: Connection, user_ids: list[int]) -> dict[int, list[str]]:
    roles: dict[int, list[str]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return roles
    rows = conn.execute(
        select(UserRole.user_id, UserRole.role)
        .where(UserRole.user_id.in_(user_ids))
        .order_by(UserRole.user_id, UserRole.role)
    )
    for uid, role in rows:
        roles[uid].append(role)
    return roles


# Read on every run of every page (the login check): made once, run with the name bound.
_USER_BY_NAME = select(
    User.id,
    User.username,
    User.name,
    User.email,
    User.active,
    User.customer_id,
    User.sales_rep_id,
).where(func.lower(User.username) == bindparam("name"))
_ROLES_OF_USER = (
    select(UserRole.role).where(UserRole.user_id == bindparam("user_id")).order_by(UserRole.role)
)


def user_by_username(conn: Connection, username: str) -> UserRecord | None:
    """The user called ``username`` (case-insensitive) with their roles, or None."""
    row = conn.execute(_USER_BY_NAME, {"name": username.strip().lower()}).first()
    if row is None:
        return None
    roles = conn.execute(_ROLES_OF_USER, {"user_id": row.id}).scalars().all()
    return UserRecord(
        user_id=row.id,
        username=row.username,
        name=row.name,
        email=row.email,
        active=bool(row.active),
        roles=frozenset(roles),
        customer_id=row.customer_id,
        sales_rep_id=row.sales_rep_id,
    )


def active_credentials(conn: Connection) -> list[LoginCredential]:
    """Every active user's login data (bcrypt hash, never a plain password)."""
    rows = conn.execute(
        select(User.id, User.username, User.name, User.email, User.password_hash)
        .where(User.active.is_(True))
        .order_by(User.username)
    ).all()
    roles = _roles_of(conn, [r.id for r in rows])
    return [
        LoginCredential(
            username=r.username,
            name=r.name,
            email=r.email,
            password_hash=r.password_hash,
            roles=tuple(roles[r.id]),
        )
        for r in rows
    ]


def users_table(conn: Connection) -> pd.DataFrame:
    """All users with their roles and links, for the admin page."""
    rows = conn.execute(
        select(
            User.id.label("user_id"),
            User.username,
            User.name,
            User.email,
            User.active,
            User.customer_id,
            Customer.name.label("customer"),
            User.sales_rep_id,
            SalesRep.name.label("sales_rep"),
            User.created_at,
        )
        .outerjoin(Customer, Customer.id == User.customer_id)
        .outerjoin(SalesRep, SalesRep.id == User.sales_rep_id)
        .order_by(User.username)
    ).all()
    roles = _roles_of(conn, [r.user_id for r in rows])
    frame = pd.DataFrame(
        [{**r._asdict(), "roles": ", ".join(roles[r.user_id])} for r in rows],
        columns=[
            "user_id",
            "username",
            "name",
            "email",
            "active",
            "roles",
            "customer_id",
            "customer",
            "sales_rep_id",
            "sales_rep",
            "created_at",
        ],
    )
    # nullable ids stay whole numbers (pandas would otherwise turn them into floats)
    for column in ("customer_id", "sales_rep_id"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _matching(search: str | None):
    """Customers whose code or name contains ``search`` (any case; every customer when blank)."""
    text = (search or "").strip()
    if not text:
        return True
    return or_(
        Customer.code.icontains(text, autoescape=True),
        Customer.name.icontains(text, autoescape=True),
    )


def customer_choices(
    conn: Connection,
    *,
    search: str | None = None,
    limit: int | None = None,
    include: Iterable[int] = (),
) -> list[tuple[int, str]]:
    """(id, "CODE · name") of the customers whose code or name contains ``search`` (all when
    blank), by code, at most ``limit`` of them, for a link selectbox; the customers of
    ``include`` come first whether they match or not (a link already made or chosen)."""
    label = Customer.code + " · " + Customer.name
    kept = sorted({int(i) for i in include})
    first = []
    if kept:
        first = conn.execute(
            select(Customer.id, label).where(Customer.id.in_(kept)).order_by(Customer.code)
        ).all()
    statement = select(Customer.id, label).where(_matching(search)).order_by(Customer.code)
    if kept:
        statement = statement.where(Customer.id.not_in(kept))
    if limit is not None:
        statement = statement.limit(max(0, int(limit)))
    return [(int(cid), text) for cid, text in [*first, *conn.execute(statement)]]


def customers_matching(conn: Connection, search: str | None = None) -> int:
    """How many customers :func:`customer_choices` would offer for ``search`` without a limit."""
    return conn.execute(
        select(func.count()).select_from(Customer).where(_matching(search))
    ).scalar_one()


def sales_rep_choices(conn: Connection) -> list[tuple[int, str]]:
    """(id, "CODE · name") of every sales representative, for a link selectbox."""
    rows = conn.execute(select(SalesRep.id, SalesRep.code, SalesRep.name).order_by(SalesRep.code))
    return [(rid, f"{code} · {name}") for rid, code, name in rows]


def password_hash_of(conn: Connection, user_id: int) -> str | None:
    """The stored bcrypt hash of one user (to check a current password before a change)."""
    return conn.execute(select(User.password_hash).where(User.id == user_id)).scalar_one_or_none()
