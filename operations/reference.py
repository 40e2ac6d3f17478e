"""What placing an order reads that orders never change, kept between orders.

Every order reads its customer, its products, the settings and the warehouse; a line that goes
short also reads its product's supplier and open purchase orders, the demand forecasts and the
promise models. None of these tables is written by placing an order, so they are kept in memory
per database, keyed by the versions of their subjects (``data/changes.py``): one statement reads
the versions, and a committed write to any of them (a price edit, a customer's new address, a
purchase order sent or received, a setting, a retrained model) starts a fresh memo.

The versions are read in the order's own read transaction before anything kept under them, so
kept data is never older than its key (the argument of ``data/changes.py``). What orders do
change (stock, demand, open backorders) is always read afresh.

The whole catalogue and customer list are read at the first ask (one plain query each, rows
rather than ORM objects, while they stay under ``KEPT_PRODUCTS`` and ``KEPT_CUSTOMERS``) and
kept while the version of their own subject stands still, so a purchase order or a setting
changed does not read them again. Kept rows are shared between threads: callers only read
their columns.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.changes import subject_versions
from data.schema import Customer, Product
from data.settings import all_settings
from models.promise import (
    PromiseInputs,
    PromiseModels,
    Supply,
    Transit,
    load_promise_models,
    prime_lead_times,
    read_promise_inputs,
    read_supply,
    transit_for,
)
from operations import notification_rules
from operations.root_cause import ProductFacts, product_facts
from operations.stock import resolve_warehouse

# The subjects of every table read into the memo (products and suppliers are "catalogue",
# purchase orders "purchasing", forecasts and model runs "models", a rep's users "users").
SUBJECTS = ("catalogue", "customers", "models", "purchasing", "settings", "users")
KEPT_PRODUCTS = 50_000  # products kept per memo before it starts again (bounds memory)
KEPT_CUSTOMERS = 100_000  # customers read whole at most; above, read as orders ask for them


@dataclass
class _Memo:
    versions: tuple[int, ...]
    settings: dict | None = None
    warehouses: dict[int | None, int] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    audiences: dict[int, tuple | None] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    facts: dict[dt.date, dict[int, ProductFacts]] = field(default_factory=dict)
    supply: Supply | None = None  # of every product (models.promise.read_supply)
    models: PromiseModels | None = None
    transits: dict[tuple[str | None, dt.date], Transit] = field(default_factory=dict)
    primed: set[dt.date] = field(default_factory=set)  # days the lead times were predicted for
    rep_users: dict[int, list[tuple[int, str | None]]] | None = None  # active users per rep
    loading: threading.Lock = field(default_factory=threading.Lock)  # one reader fills the rest


@dataclass
class _Whole:
    """A whole table read at once, valid while its subject's version is ``version``.

    ``rows`` is None when the table was too large to keep whole (read as asked instead).
    """

    version: int
    rows: dict | None


# One memo per engine (a test's fresh database has an engine of its own even at the same URL).
_MEMOS: weakref.WeakKeyDictionary[Engine, _Memo] = weakref.WeakKeyDictionary()
_WHOLE: weakref.WeakKeyDictionary[Engine, dict[str, _Whole]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_LOADING = threading.Lock()  # one thread reads a whole table, the others wait for it
_PRODUCTS = select(Product.__table__).limit(KEPT_PRODUCTS + 1)
_CUSTOMERS = select(Customer.__table__).limit(KEPT_CUSTOMERS + 1)


class Reference:
    """The kept reads of one database for one transaction (see the module docstring).

    Made by :func:`reference` at the start of a read transaction; each method answers from the
    memo and reads (then keeps) only what it misses, in that transaction.
    """

    def __init__(
        self,
        session: Session,
        memo: _Memo,
        *,
        keep: bool,
        versions: dict[str, int] | None = None,
    ):
        self.session = session
        self._memo = memo
        self._keep = keep
        self._versions = versions or {}

    def _whole(self, name: str, subject: str, query, key, limit: int) -> dict | None:
        """The rows of a whole table by ``key`` (kept per subject version), None when too large."""
        if not self._keep:
            return None
        engine = self.session.connection().engine
        version = self._versions[subject]
        kept = _WHOLE.get(engine, {}).get(name)
        if kept is None or kept.version != version:
            with _LOADING:
                kept = _WHOLE.get(engine, {}).get(name)
                if kept is None or kept.version != version:
                    rows = self.session.connection().execute(query).all()
                    found = {key(row): row for row in rows} if len(rows) <= limit else None
                    kept = _Whole(version, found)
                    with _LOCK:
                        _WHOLE.setdefault(engine, {})[name] = kept
        return kept.rows

    def _detach(self, obj) -> None:
        """A kept object leaves the reading session (it outlives it)."""
        if self._keep:
            self.session.expunge(obj)

    def settings(self) -> dict:
        memo = self._memo
        if memo.settings is None:
            memo.settings = all_settings(self.session.connection())
        return memo.settings

    def warehouse(self, warehouse_id: int | None) -> int:
        """The warehouse asked for (checked), or the default one."""
        found = self._memo.warehouses.get(warehouse_id)
        if found is None:
            found = resolve_warehouse(self.session, warehouse_id)
            self._memo.warehouses[warehouse_id] = found
        return found

    def customer(self, customer_id: int) -> Customer | None:
        """The customer's row (None when there is none)."""
        whole = self._whole(
            "customers", "customers", _CUSTOMERS, lambda row: row.id, KEPT_CUSTOMERS
        )
        if whole is not None:
            return whole.get(customer_id)
        memo = self._memo
        customer = memo.customers.get(customer_id)
        if customer is None:
            customer = self.session.get(Customer, customer_id)
            if customer is None:
                return None
            self._detach(customer)
            memo.customers[customer_id] = customer
        return customer

    def audience(self, customer_id: int) -> tuple | None:
        """The customer's notice audience (``notification_rules.customer_audience``)."""
        memo = self._memo
        if customer_id not in memo.audiences:
            customer = self.customer(customer_id)
            rep_users = None
            if self._keep and customer is not None:
                # Every rep's active users in one query, kept for every customer of the memo.
                with memo.loading:
                    if memo.rep_users is None:
                        memo.rep_users = notification_rules.read_rep_users(self.session)
                rep_users = memo.rep_users
            memo.audiences[customer_id] = notification_rules.customer_audience(
                self.session, customer_id, customer, rep_users
            )
        return memo.audiences[customer_id]

    def products(self, skus: list[str]) -> dict[str, Product]:
        """The products of ``skus`` by SKU (unknown SKUs are absent)."""
        whole = self._whole("products", "catalogue", _PRODUCTS, lambda row: row.sku, KEPT_PRODUCTS)
        if whole is not None:
            return {sku: product for sku in skus if (product := whole.get(sku)) is not None}
        kept = self._memo.products
        found = {sku: product for sku in skus if (product := kept.get(sku)) is not None}
        missing = sorted(set(skus) - set(found))
        if missing:
            for product in self.session.scalars(select(Product).where(Product.sku.in_(missing))):
                self._detach(product)
                found[product.sku] = product
            if len(kept) + len(missing) > KEPT_PRODUCTS:
                kept.clear()
            kept.update((sku, found[sku]) for sku in missing if sku in found)
        return found

    def product_facts(self, product_ids: list[int], today: dt.date) -> dict[int, ProductFacts]:
        """``operations.root_cause.product_facts`` of the products as of ``today``.

        The first ask of a day reads every product's (a few queries, whatever the catalogue's
        size), so the orders that follow read none.
        """
        memo = self._memo
        if not self._keep:
            return product_facts(self.session, product_ids, today)
        if today not in memo.facts:
            with memo.loading:
                if today not in memo.facts:
                    memo.facts = {today: product_facts(self.session, None, today)}
        facts = memo.facts[today]
        return {pid: facts[pid] for pid in product_ids if pid in facts}

    def promise_inputs(
        self, product_ids: list[int], region: str | None, today: dt.date, *, pick_days: int
    ) -> PromiseInputs:
        """``models.promise.read_promise_inputs`` with the kept models, transit and supply.

        The supply of every product is read at the first ask, and the lead times of every
        supplier predicted once a day. The free stock is left out (the caller passes it to
        each estimate); the open backorders ahead are read afresh.
        """
        memo = self._memo
        if not self._keep:
            return read_promise_inputs(
                self.session, product_ids, region, today, pick_days=pick_days, free={}
            )
        with memo.loading:
            if memo.models is None:
                memo.models = load_promise_models(self.session)
            if memo.supply is None:
                memo.supply = read_supply(self.session, None)
            if today not in memo.primed:
                suppliers = set(memo.supply[0].values())
                prime_lead_times(memo.models, sorted(suppliers, key=repr), today)
                memo.primed.add(today)
            transit = memo.transits.get((region, today))
            if transit is None:
                transit = transit_for(self.session, region, memo.models, today)
                memo.transits[(region, today)] = transit
        return read_promise_inputs(
            self.session,
            product_ids,
            region,
            today,
            pick_days=pick_days,
            free={},
            models=memo.models,
            transit=transit,
            supply=memo.supply,
        )


def reference(session: Session, *, keep: bool = True) -> Reference:
    """The kept reads of the session's database, valid for the versions read now.

    ``keep=False`` reads what is asked in the session and keeps nothing (as placing an order
    did before anything was kept): for a write transaction that may itself change products or
    customers before it places orders (the import), whose changes no version shows until it
    commits.
    """
    if not keep:
        return Reference(session, _Memo(()), keep=False)
    conn = session.connection()
    by_subject = subject_versions(conn, SUBJECTS)
    versions = tuple(by_subject.values())
    with _LOCK:
        memo = _MEMOS.get(conn.engine)
        if memo is None or memo.versions != versions:
            memo = _Memo(versions)
            _MEMOS[conn.engine] = memo
    return Reference(session, memo, keep=True, versions=by_subject)
