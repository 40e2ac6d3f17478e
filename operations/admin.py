"""Users, roles, passwords and settings: the administrator's changes, all audited.

Who may administer: only an active user holding the ``admin`` role. The owner sees every page,
the Admin page included, but seeing is all: running a business is not administering its
accounts, and an owner who could create administrators could hand out any access unaudited by
a second person. So every operation here names the acting user and refuses unless that user is
an active administrator; the one exception is a user changing their own password.
"""

from __future__ import annotations

import ipaddress
import math
import re
from numbers import Real
from typing import Any

import bcrypt
from sqlalchemy import Engine, delete, func, select

from data.db import write_session
from data.schema import ROLES, Customer, SalesRep, Setting, User, UserRole, utcnow
from data.settings import SETTINGS, listed_roles
from operations import audit
from operations.errors import InvalidState, NotFound, ValidationError
from operations.transactions import write_operation
from operations.validation import (
    actor_name,
    excerpt,
    flag,
    identifier,
    optional_identifier,
    text,
    whole_number,
)

PASSWORD_MIN_BYTES = 8
PASSWORD_MAX_BYTES = 72  # bcrypt 5 refuses longer passwords outright
DEFAULT_BCRYPT_ROUNDS = 10
USERNAME_MAX_LENGTH = 40
# A letter first (so no username reads as a number or an option), then letters, digits, . _ -
USERNAME_PATTERN = re.compile(rf"^[a-z][a-z0-9._-]{{1,{USERNAME_MAX_LENGTH - 1}}}$")
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
ADMIN_ROLE = "admin"


def as_typed_at_login(password: str) -> str:
    """What the login form makes of a typed password: streamlit-authenticator strips both ends."""
    return password.strip()


def check_password(password: Any) -> str:
    """The password if it has 8 to 72 bytes in UTF-8 and can be typed at the login form.

    The one rule for passwords, used wherever one is set (here and the account form). The login
    form (streamlit-authenticator) strips spaces from both ends of what is typed, so a password
    that starts or ends with a space could never be entered: it is refused here.
    """
    if not isinstance(password, str):
        raise ValidationError("The password must be text.")
    if password != as_typed_at_login(password):
        raise ValidationError(
            "A password cannot start or end with a space. The login form drops those spaces, "
            "so it could never be typed in: remove them and try again."
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in password):
        raise ValidationError("A password cannot contain control characters such as tabs.")
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


def check_username(value: Any) -> str:
    """The username in lower case: a letter, then letters, digits, dots, dashes, underscores."""
    if not isinstance(value, str):
        raise ValidationError(f"The username must be text, not {excerpt(value)}.")
    username = value.strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError(
            f"The username {excerpt(value)} is not allowed: start with a letter, then use "
            f"letters, digits, dots, dashes or underscores (2 to {USERNAME_MAX_LENGTH} in all)."
        )
    return username


def require_admin(session, actor: str) -> None:
    """Refuse unless ``actor`` is an active user with the admin role (see the module's note)."""
    is_admin = session.execute(
        select(func.count())
        .select_from(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.username == actor, User.active.is_(True), UserRole.role == ADMIN_ROLE)
    ).scalar_one()
    if not is_admin:
        raise InvalidState(
            f"Only an administrator can change users and settings; {excerpt(actor)} is not "
            "one. Ask an administrator."
        )


def _roles(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple, set)) or not value:
        raise ValidationError("Give the user at least one role.")
    unknown = [role for role in value if not isinstance(role, str) or role not in ROLES]
    if unknown:
        raise ValidationError(
            f"Unknown role {excerpt(unknown[0])}: choose from {', '.join(ROLES)}."
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


@write_operation
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
    username = check_username(username)
    name = text(name, "The name", max_length=100)
    email = check_email(email, "The email address")
    roles = _roles(roles)
    customer_id = optional_identifier(customer_id, "Customer")
    sales_rep_id = optional_identifier(sales_rep_id, "Sales representative")
    password_hash = hash_password(password, rounds=_rounds(bcrypt_rounds))
    with write_session(engine) as session:
        require_admin(session, actor)
        taken = session.execute(
            select(func.count()).select_from(User).where(User.username == username)
        ).scalar_one()
        if taken:
            raise InvalidState(f"The username {excerpt(username)} is taken: choose another.")
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


@write_operation
def set_user_active(engine: Engine, *, user_id: int, active: bool, actor: str) -> None:
    """Switch a user's access on or off (users are never deleted: the audit trail names them)."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    active = flag(active, "Active")
    with write_session(engine) as session:
        require_admin(session, actor)
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


@write_operation
def set_user_roles(engine: Engine, *, user_id: int, roles: list[str], actor: str) -> None:
    """Replace a user's roles."""
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    roles = _roles(roles)
    with write_session(engine) as session:
        require_admin(session, actor)
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


@write_operation
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
    customer_id = optional_identifier(customer_id, "Customer")
    sales_rep_id = optional_identifier(sales_rep_id, "Sales representative")
    with write_session(engine) as session:
        require_admin(session, actor)
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


@write_operation
def reset_password(
    engine: Engine,
    *,
    user_id: int,
    new_password: str,
    actor: str,
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
) -> None:
    """Give a user a new password (the audit log records that it changed, never the password).

    An administrator may reset anyone's; every user may change their own.
    """
    actor = actor_name(actor)
    user_id = identifier(user_id, "User")
    password_hash = hash_password(new_password, rounds=_rounds(bcrypt_rounds))
    with write_session(engine) as session:
        user = _user(session, user_id)
        if user.username != actor:
            require_admin(session, actor)
        user.password_hash = password_hash
        audit.record(
            session,
            actor=actor,
            action="reset_password",
            entity="user",
            entity_id=user.id,
            note="password changed",
        )


def _rounds(value: Any) -> int:
    return whole_number(value, "The bcrypt cost", minimum=4, maximum=16)


def check_email(value: Any, what: str) -> str:
    """An e-mail address such as name@example.com."""
    email = text(value, what, max_length=200)
    if not EMAIL_PATTERN.fullmatch(email):
        raise ValidationError(
            f"{what} {excerpt(email)} is not an e-mail address (name@example.com)."
        )
    return email


LOGIN_PATTERN = re.compile(r"[A-Za-z0-9._@+-]{1,100}")


def check_host(value: Any, what: str) -> str:
    """A host name (mail.example.com, localhost) or an IP address."""
    host = text(value, what, max_length=253)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if not all(HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError(
            f"{what} {excerpt(host)} is not a host name or IP address "
            "(such as mail.example.com or 127.0.0.1)."
        )
    return host


def _setting_number(spec, value: Any, what: str) -> float | int:
    if spec.kind in ("count", "port"):
        number = whole_number(value, what, minimum=-(2**31), maximum=2**31 - 1)
    else:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValidationError(f"{what} must be a number, not {excerpt(value)}.")
        number = float(value)
        if not math.isfinite(number):
            raise ValidationError(f"{what} must be a number, not {excerpt(value)}.")
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(f"{what} must be at least {spec.minimum}, not {number}.")
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(f"{what} must be at most {spec.maximum}, not {number}.")
    return number


def check_setting(key: str, value: Any) -> Any:
    """``value`` checked against the kind its setting declares (data.settings.SETTINGS)."""
    spec = SETTINGS[key]
    what = key
    if spec.kind == "flag":
        return flag(value, what)
    if spec.kind in ("ratio", "count", "port"):
        return _setting_number(spec, value, what)
    if spec.kind == "email":
        return check_email(value, what)
    if spec.kind == "host":
        return check_host(value, what)
    if spec.kind == "choice":
        chosen = text(value, what, max_length=40)
        if chosen not in spec.choices:
            raise ValidationError(
                f"{what} must be one of {', '.join(spec.choices)}, not {excerpt(chosen)}."
            )
        return chosen
    if spec.kind == "login":
        login = text(value, what, max_length=100)
        if login != "-" and not LOGIN_PATTERN.fullmatch(login):
            raise ValidationError(
                f"{what} {excerpt(login)} is not a login name: use letters, digits and "
                ". _ @ + - only, or - for none."
            )
        return login
    if spec.kind == "roles":
        written = text(value, what, max_length=400).strip()
        if written == "-":
            return "-"
        roles = listed_roles(written)
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise ValidationError(
                f"{what}: {excerpt(unknown[0])} is not a role; use {', '.join(ROLES)}, "
                "separated by commas, or - for none."
            )
        if not roles:
            raise ValidationError(f"{what}: name at least one role, or write - for none.")
        return ",".join(dict.fromkeys(roles))
    raise AssertionError(f"setting {key} has an unknown kind {spec.kind}")


@write_operation
def set_setting(engine: Engine, *, key: str, value: Any, actor: str) -> None:
    """Change one setting after checking it against its kind (administrators only)."""
    actor = actor_name(actor)
    if not isinstance(key, str) or key not in SETTINGS:
        raise NotFound(f"There is no setting called {excerpt(key)}.")
    value = check_setting(key, value)
    with write_session(engine) as session:
        require_admin(session, actor)
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
