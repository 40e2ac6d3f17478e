"""Users, roles, passwords and settings: the administrator's changes, all audited."""

from __future__ import annotations

import re
from numbers import Real
from typing import Any

import bcrypt
from sqlalchemy import Engine, delete, func, select

from data.db import write_session
from data.schema import ROLES, Customer, SalesRep, Setting, User, UserRole, utcnow
from data.settings import SETTINGS
from operations import audit
from operations.errors import InvalidState, NotFound, ValidationError
from operations.validation import actor_name, identifier, text

PASSWORD_MIN_BYTES = 8
PASSWORD_MAX_BYTES = 72  # bcrypt 5 refuses longer passwords outright
DEFAULT_BCRYPT_ROUNDS = 10
USERNAME_PATTERN = re.compile(r"^[a-z0-9._-]{2,60}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_password(password: Any) -> str:
    """The password if it has 8 to 72 bytes in UTF-8, else a ValidationError saying why."""
    if not isinstance(password, str):
        raise ValidationError("The password must be text.")
    size = len(password.encode("utf-8"))
    if size < PASSWORD_MIN_BYTES:
        raise ValidationError(
            f"The password is too short: use at least {PASSWORD_MIN_BYTES} characters."
        )
    if size > PASSWORD_MAX_BYTES:
        raise ValidationError(
            f"The password is too long: at most {PASSWORD_MAX_BYTES} bytes in UTF-8 "
            f"(this one has {size}; accented letters and symbols count as 2-4)."
        )
    return password


def hash_password(password: str, rounds: int = DEFAULT_BCRYPT_ROUNDS) -> str:
    """bcrypt hash (as text) of a valid password."""
    check_password(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def _username(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("The username must be text.")
    username = value.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise ValidationError(
            f"The username {value!r} is not allowed: use 2 to 60 lowercase letters, digits, "
            "dots, dashes or underscores."
        )
    return username


def _roles(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple, set)) or not value:
        raise ValidationError("Give the user at least one role.")
    unknown = [role for role in value if role not in ROLES]
    if unknown:
        raise ValidationError(
            f"Unknown role {', '.join(map(repr, unknown))}: choose from {', '.join(ROLES)}."
        )
    return sorted(set(value))


def _check_links(session, roles: list[str], customer_id, sales_rep_id) -> None:
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    if sales_rep_id is not None and session.get(SalesRep, sales_rep_id) is None:
        raise NotFound(f"Sales representative {sales_rep_id} does not exist.")
    if "customer" in roles and customer_id is None:
        raise ValidationError("A user with the customer role must be linked to a customer.")
    if "sales_rep" in roles and sales_rep_id is None:
        raise ValidationError(
            "A user with the sales_rep role must be linked to a sales representative."
        )


def _user(session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update={"key_share": True})
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def _user_roles(session, user_id: int) -> list[str]:
    return sorted(session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def create_user(
    engine: Engine,
    *,
    username: str,
    name: str,
    email: str,
    password: str,
    roles: list[str],
    actor: str,
    customer_id: int | None = None,
    sales_rep_id: int | None = None,
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
) -> int:
    """Create a user with roles; returns the new user's id."""
    actor = actor_name(actor)
    username = _username(username)
    name = text(name, "The name", max_length=100)
    email = text(email, "The email address", max_length=200)
    if not EMAIL_PATTERN.match(email):
        raise ValidationError(f"{email!r} is not an email address.")
    roles = _roles(roles)
    customer_id = None if customer_id is None else identifier(customer_id, "Customer")
    sales_rep_id = (
        None if sales_rep_id is None else identifier(sales_rep_id, "Sales representative")
    )
    password_hash = hash_password(password, rounds=bcrypt_rounds)
    with write_session(engine) as session:
        taken = session.execute(
            select(func.count()).select_from(User).where(User.username == username)
        ).scalar_one()
        if taken:
            raise InvalidState(f"The username {username!r} is taken: choose another.")
        _check_links(session, roles, customer_id, sales_rep_id)
        user = User(
            username=username,
            name=name,
            email=email,
            password_hash=password_hash,
            active=True,
            customer_id=customer_id,
            sales_rep_id=sales_rep_id,
            created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        session.add_all(UserRole(user_id=user.id, role=role) for role in roles)
        audit.record(
            session,
            actor=actor,
            action="create_user",
            entity="user",
            entity_id=user.id,
            after={
                "username": username,
                "roles": roles,
                "customer_id": customer_id,
                "sales_rep_id": sales_rep_id,
            },
        )
        return user.id


def set_user_active(engine: Engine, *, user_id: int, active: bool, actor: str) -> None:
    """Switch a user's access on or off (users are never deleted: the audit trail names them)."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    if not isinstance(active, bool):
        raise ValidationError(f"Active must be true or false, not {active!r}.")
    with write_session(engine) as session:
        user = _user(session, user_id)
        if not active and user.username == actor:
            raise InvalidState("You cannot deactivate your own account.")
        before = user.active
        user.active = active
        audit.record(
            session,
            actor=actor,
            action="set_user_active",
            entity="user",
            entity_id=user.id,
            before={"active": before},
            after={"active": active},
        )


def set_user_roles(engine: Engine, *, user_id: int, roles: list[str], actor: str) -> None:
    """Replace a user's roles."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    roles = _roles(roles)
    with write_session(engine) as session:
        user = _user(session, user_id)
        _check_links(session, roles, user.customer_id, user.sales_rep_id)
        before = _user_roles(session, user.id)
        if user.username == actor and "admin" in before and "admin" not in roles:
            raise InvalidState("You cannot take the admin role from your own account.")
        session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        session.add_all(UserRole(user_id=user.id, role=role) for role in roles)
        audit.record(
            session,
            actor=actor,
            action="set_user_roles",
            entity="user",
            entity_id=user.id,
            before={"roles": before},
            after={"roles": roles},
        )


def link_user(
    engine: Engine,
    *,
    user_id: int,
    actor: str,
    customer_id: int | None = None,
    sales_rep_id: int | None = None,
) -> None:
    """Link a user to the customer and/or sales representative they act for (None unlinks)."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    customer_id = None if customer_id is None else identifier(customer_id, "Customer")
    sales_rep_id = (
        None if sales_rep_id is None else identifier(sales_rep_id, "Sales representative")
    )
    with write_session(engine) as session:
        user = _user(session, user_id)
        _check_links(session, _user_roles(session, user.id), customer_id, sales_rep_id)
        before = {"customer_id": user.customer_id, "sales_rep_id": user.sales_rep_id}
        user.customer_id = customer_id
        user.sales_rep_id = sales_rep_id
        audit.record(
            session,
            actor=actor,
            action="link_user",
            entity="user",
            entity_id=user.id,
            before=before,
            after={"customer_id": customer_id, "sales_rep_id": sales_rep_id},
        )


def reset_password(
    engine: Engine,
    *,
    user_id: int,
    new_password: str,
    actor: str,
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
) -> None:
    """Give a user a new password (the audit log records that it changed, never the password)."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    password_hash = hash_password(new_password, rounds=bcrypt_rounds)
    with write_session(engine) as session:
        user = _user(session, user_id)
        user.password_hash = password_hash
        audit.record(
            session,
            actor=actor,
            action="reset_password",
            entity="user",
            entity_id=user.id,
            note="password changed",
        )


def _setting_value(key: str, value: Any) -> Any:
    spec = SETTINGS[key]
    default = spec.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValidationError(f"{key} must be true or false, not {value!r}.")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValidationError(f"{key} must be a number, not {value!r}.")
        if isinstance(default, int) and not float(value).is_integer():
            raise ValidationError(f"{key} must be a whole number, not {value!r}.")
        value = int(value) if isinstance(default, int) else float(value)
        if spec.minimum is not None and value < spec.minimum:
            raise ValidationError(f"{key} must be at least {spec.minimum}, not {value}.")
        if spec.maximum is not None and value > spec.maximum:
            raise ValidationError(f"{key} must be at most {spec.maximum}, not {value}.")
        return value
    return text(value, key, max_length=200)


def set_setting(engine: Engine, *, key: str, value: Any, actor: str) -> None:
    """Change one setting after checking its type and range."""
    actor = actor_name(actor)
    if key not in SETTINGS:
        raise NotFound(f"There is no setting called {key!r}.")
    value = _setting_value(key, value)
    with write_session(engine) as session:
        row = session.get(Setting, key, with_for_update={"key_share": True})
        before = SETTINGS[key].default if row is None else row.value["v"]
        if row is None:
            session.add(Setting(key=key, value={"v": value}, updated_at=utcnow(), updated_by=actor))
        else:
            row.value = {"v": value}
            row.updated_at = utcnow()
            row.updated_by = actor
        audit.record(
            session,
            actor=actor,
            action="set_setting",
            entity="setting",
            entity_id=key,
            before={"value": before},
            after={"value": value},
        )
