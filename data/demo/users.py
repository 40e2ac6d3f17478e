"""Demo logins, one or more per role, with passwords the README lists (changeable in the app)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import bcrypt

BCRYPT_ROUNDS = 10


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]
    name: str
    link: str | None = None  # "customer:<n>" or "sales_rep:<n>" (1-based demo rows)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("manager", "manager-demo", ("warehouse_manager",), "Morgan Hale"),
    DemoUser("sales1", "sales1-demo", ("sales_rep",), "", "sales_rep:1"),
    DemoUser("buyer", "buyer-demo", ("purchasing_manager",), "Bea Ruiz"),
    DemoUser("customer1", "customer1-demo", ("customer",), "", "customer:1"),
    DemoUser("customer2", "customer2-demo", ("customer",), "", "customer:2"),
    DemoUser("operator", "operator-demo", ("warehouse_operator",), "Otto Price"),
    DemoUser("logistics", "logistics-demo", ("logistics_manager",), "Lena Fox"),
    DemoUser("finance", "finance-demo", ("finance_manager",), "Frank Ode"),
    DemoUser("service", "service-demo", ("customer_service",), "Sam Reyes"),
    DemoUser("marketing", "marketing-demo", ("marketing_manager",), "Mia Stone"),
    DemoUser("owner", "owner-demo", ("owner",), "Olive Grant"),
    DemoUser("admin", "admin-demo", ("admin",), "Ada Quinn"),
)


# bcrypt hashes of the demo passwords (made once with bcrypt.hashpw at BCRYPT_ROUNDS). The
# passwords are public in the README anyway; precomputing them saves 0.6 s per seeding (the tests
# seed often) and makes the seeded users identical run to run. A test checks each one verifies.
PRECOMPUTED_HASHES = {
    "manager-demo": "$2b$10$x309WEH67ZTCbAb0HI0RM.oX9s44jHLKU3q3F7hTElsqLLV6ucW4u",
    "sales1-demo": "$2b$10$cgd9Tf3jF1cFQOYDzfOFJOTRIBoXVlLlKcU5L3xUUsufVQc9e34eu",
    "buyer-demo": "$2b$10$08MBgtqGoFmxYbnjiBKKgOZJtEaxzQ/KP1QfAO0AfOvf4fH.fUEtW",
    "customer1-demo": "$2b$10$QQiPPnvmIFxqSVyKGASBauCiptOl8x7.QMoamacU2U.XRo.VHUigy",
    "customer2-demo": "$2b$10$lSLtiWBbliN1bNVsWmx1guTMcZJMbRrPDUfkrwfSzrDmpMuR4kogq",
    "operator-demo": "$2b$10$O4Q0xrG4aEMcWo1PgBvOd.OqHWISlYBvhQBumQ7SQWo39gWSzRRZi",
    "logistics-demo": "$2b$10$hjDHLLMwoPURD4CckOZXzuaaxApXm9bHAVbNRd8EbrZoAwdPfRX26",
    "finance-demo": "$2b$10$RM1DUCxjUoiF6mskwiZmAunEUzLxG3JPj7jypIv52fnlI8V15RiEa",
    "service-demo": "$2b$10$giCjbyoCxJBN3KS/XbYzJOTJzJLYerO4Ablx.chR9d4UCrtXcvPAG",
    "marketing-demo": "$2b$10$v.1.UNxbWg.AjFW68c89xOsqPbZGJt3KDPfuQnz/s1KHo559.Cnhy",
    "owner-demo": "$2b$10$BbXlLPPaBNrp/DjCvwgVjO0oyVKOzrSf8bjob.4v8ZQvw484mr49m",
    "admin-demo": "$2b$10$eXyZF7ubEdFlutC/lEMWzOciwA4AexBxj9xL2v2H.7.dVfq7QrmlK",
}


@lru_cache(maxsize=64)
def password_hash(password: str) -> str:
    """bcrypt hash of a demo password (precomputed for the listed ones)."""
    if password in PRECOMPUTED_HASHES:
        return PRECOMPUTED_HASHES[password]
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def user_rows(
    rep_names: list[str], customer_names: list[str], created_at: str
) -> tuple[list[tuple], list[tuple]]:
    """Rows for ``users`` and ``user_roles``."""
    users, roles = [], []
    for uid, user in enumerate(DEMO_USERS, 1):
        customer_id = sales_rep_id = None
        name = user.name
        if user.link:
            kind, number = user.link.split(":")
            if kind == "customer":
                customer_id = int(number)
                name = customer_names[customer_id - 1]
            else:
                sales_rep_id = int(number)
                name = rep_names[sales_rep_id - 1]
        users.append(
            (
                uid,
                user.username,
                name,
                f"{user.username}@larder.example.com",
                password_hash(user.password),
                True,
                customer_id,
                sales_rep_id,
                created_at,
            )
        )
        roles.extend((uid, role) for role in user.roles)
    return users, roles
