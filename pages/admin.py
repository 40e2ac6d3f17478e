"""Admin: users and roles, settings, and the audit trail.

The administrator changes things here; the business owner sees the same page read-only (the
forms are not shown to anyone without the administrator role).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from data.db import read_connection
from data.schema import ROLES
from operations import admin as admin_ops
from operations.errors import LarderError
from queries.audit import DEFAULT_LIMIT, audit_actors, audit_entities, audit_entries
from queries.model_runs import demand_backtest_table, model_overview
from queries.settings import setting_rows
from queries.users import customer_choices, customers_matching, sales_rep_choices, users_table
from ui.auth import require_role, role_label
from ui.components import error_state, kpi_tile, remember_success, show_success, standard_table
from ui.db import engine, live_read
from ui.export_panel import export_panel
from ui.format import datetime_column, plain, qty
from ui.import_panel import import_tab as show_import
from ui.jobs_panel import jobs_panel
from ui.labels import describe_change, method_label, metric_label, setting_label
from ui.outbox_admin import outbox_tab as show_outbox

user = require_role("admin")
# The owner may see every page, but administering users and settings is the administrator's.
read_only = "admin" not in user.roles

ALL = "(all)"
NO_LINK = None
NO_LINK_LABEL = "— none —"
LINK_CHOICES = 50
AUDIT_DAYS_DEFAULT = 30
FLASH_KEY = "admin_flash"  # a save's message, shown after its rerun (also ui/outbox_admin)
TAB_KEY = "admin_tab"  # the open tab, kept across the rerun after a save
TABS = ["Users", "Settings", "Audit log", "Models", "Outbox", "Jobs", "Import", "Export"]
# Bumped after a user is created: the create form then comes back as new widgets, empty.
NEW_USER_FORM_KEY = "admin_new_user_form"
READ_ONLY_NOTE = (
    "Read-only for the business owner: users, roles and settings are changed by an administrator."
)


def _attempt(action, success: str, *, after=None) -> None:
    """Run one write; a refusal shows its message and changes nothing (the form keeps its input)."""
    try:
        action()
    except LarderError as err:
        error_state(err)
    else:
        if after is not None:
            after()
        remember_success(FLASH_KEY, success)


def _fresh_create_form() -> None:
    st.session_state[NEW_USER_FORM_KEY] = st.session_state.get(NEW_USER_FORM_KEY, 0) + 1


st.title("Admin")
show_success(FLASH_KEY)
if read_only:
    st.info(READ_ONLY_NOTE, icon=":material/visibility:")


# What the link selectboxes offer: each option's label by its id, "no link" first. Customers
# are offered by search, at most LINK_CHOICES at a time (the large demo has 8,000: a list of
# them all would be sent to the browser on every run), sales representatives all.
@live_read("customers")
def _customer_links(engine, search: str, keep: tuple[int, ...]) -> dict[int | None, str]:
    """No link first, the customers of ``keep``, then the first customers matching ``search``."""
    with read_connection(engine) as conn:
        found = customer_choices(conn, search=search, limit=LINK_CHOICES, include=keep)
    return {NO_LINK: NO_LINK_LABEL, **dict(found)}


@live_read("customers")
def _customers_matching(engine, search: str) -> int:
    with read_connection(engine) as conn:
        return customers_matching(conn, search)


@live_read("customers")
def _rep_links(engine) -> dict[int | None, str]:
    with read_connection(engine) as conn:
        return {NO_LINK: NO_LINK_LABEL, **dict(sales_rep_choices(conn))}


@live_read("customers", "users")
def _users(engine) -> pd.DataFrame:
    with read_connection(engine) as conn:
        return users_table(conn)


@live_read("settings")
def _settings(engine) -> list:
    with read_connection(engine) as conn:
        return setting_rows(conn)


users = _users(engine())
settings = _settings(engine())
reps = _rep_links(engine())


def _kept(*keys: str, linked: int | None = None) -> tuple[int, ...]:
    """The customers a link selectbox must keep offering: the one linked now and the ones
    chosen in the selectboxes ``keys`` (a new search must not drop a choice not yet saved)."""
    chosen = [st.session_state.get(key) for key in keys]
    return tuple(sorted({c for c in [linked, *chosen] if isinstance(c, int)}))


tiles = st.columns(3)
with tiles[0]:
    kpi_tile("Users", len(users), "Accounts in Larder, active or not.")
with tiles[1]:
    kpi_tile("Active users", int(users["active"].sum()), "Accounts that can log in now.")
with tiles[2]:
    kpi_tile(
        "Settings changed",
        sum(not row.is_default for row in settings),
        "Settings whose value differs from the shipped default.",
    )

(
    users_tab,
    settings_tab,
    audit_tab,
    models_tab,
    outbox_tab,
    jobs_tab,
    import_tab,
    export_tab,
) = st.tabs(TABS, key=TAB_KEY, on_change="rerun")


def _user_forms() -> None:
    """Create a user; change one user's status, roles, links and password (administrator)."""
    st.subheader("Create a user")
    # Widget keys of the first form are plain (tests and the browser address them by key).
    generation = st.session_state.get(NEW_USER_FORM_KEY, 0)
    form = f"_{generation}" if generation else ""
    search = st.text_input(
        "Find a customer to link",
        key="admin_customer_search",
        placeholder="Code or name, e.g. C00042 or bistro",
        help=f"The linked-customer lists below offer the first {LINK_CHOICES} customers (by "
        "code) whose code or name contains this, and the customer a user is linked to now.",
    ).strip()
    matching = _customers_matching(engine(), search)
    if matching > LINK_CHOICES:
        st.caption(
            f"The customer lists offer {LINK_CHOICES} of the {qty(matching)} customers"
            + (" that match" if search else "")
            + ": type a code or name above to find the others."
        )
    elif search and not matching:
        st.caption(f"No customer's code or name contains “{plain(search)}”.")
    customers = _customer_links(engine(), search, _kept(f"admin_new_customer{form}"))
    with st.form(f"admin_create_user{form}", clear_on_submit=False):
        left, right = st.columns(2)
        new_username = left.text_input("Username", key=f"admin_new_username{form}")
        new_name = right.text_input("Full name", key=f"admin_new_name{form}")
        new_email = left.text_input("Email", key=f"admin_new_email{form}")
        new_password = right.text_input(
            "Password", type="password", key=f"admin_new_password{form}", help="8 to 72 bytes."
        )
        new_roles = st.multiselect(
            "Roles", ROLES, key=f"admin_new_roles{form}", format_func=role_label
        )
        new_customer = left.selectbox(
            "Linked customer (for the customer role)",
            list(customers),
            index=0,
            format_func=customers.__getitem__,
            key=f"admin_new_customer{form}",
        )
        new_rep = right.selectbox(
            "Linked sales representative (for the sales rep role)",
            list(reps),
            index=0,
            format_func=reps.__getitem__,
            key=f"admin_new_rep{form}",
        )
        create = st.form_submit_button("Create user", icon=":material/person_add:")
    if create:
        _attempt(
            lambda: admin_ops.create_user(
                engine(),
                username=new_username,
                name=new_name,
                email=new_email,
                password=new_password,
                roles=list(new_roles),
                actor=user.username,
                customer_id=new_customer,
                sales_rep_id=new_rep,
            ),
            f"User {new_username.strip().lower()} created.",
            after=_fresh_create_form,
        )

    st.subheader("Change a user")
    if users.empty:
        st.info("There is nobody to change yet.")
    else:
        by_id = {int(row.user_id): row for row in users.itertuples()}
        chosen_id = st.selectbox(
            "User",
            list(by_id),
            format_func=lambda uid: (
                f"{by_id[uid].username} · {by_id[uid].name}"
                + ("" if by_id[uid].active else " (disabled)")
            ),
            key="admin_pick_user",
        )
        chosen = by_id[chosen_id]
        status_col, roles_col = st.columns(2)
        with status_col:
            st.markdown(f"**Status:** {'active' if chosen.active else 'disabled'}")
            if chosen.active:
                if st.button(
                    "Disable this user",
                    key=f"admin_disable_{chosen_id}",
                    icon=":material/person_off:",
                    disabled=chosen_id == user.user_id,
                    help="You cannot disable yourself.",
                ):
                    _attempt(
                        lambda: admin_ops.set_user_active(
                            engine(), user_id=chosen_id, active=False, actor=user.username
                        ),
                        f"{chosen.username} is disabled and can no longer open any page.",
                    )
            elif st.button(
                "Enable this user", key=f"admin_enable_{chosen_id}", icon=":material/person:"
            ):
                _attempt(
                    lambda: admin_ops.set_user_active(
                        engine(), user_id=chosen_id, active=True, actor=user.username
                    ),
                    f"{chosen.username} is enabled again.",
                )
        with roles_col:
            current_roles = [r for r in chosen.roles.split(", ") if r]
            roles = st.multiselect(
                "Roles",
                ROLES,
                default=current_roles,
                format_func=role_label,
                key=f"admin_roles_{chosen_id}",
            )
            if st.button("Save roles", key=f"admin_save_roles_{chosen_id}"):
                _attempt(
                    lambda: admin_ops.set_user_roles(
                        engine(), user_id=chosen_id, roles=list(roles), actor=user.username
                    ),
                    f"Roles of {chosen.username} saved.",
                )

        link_col, password_col = st.columns(2)
        with link_col:
            current_customer = None if pd.isna(chosen.customer_id) else int(chosen.customer_id)
            current_rep = None if pd.isna(chosen.sales_rep_id) else int(chosen.sales_rep_id)
            link_key = f"admin_link_customer_{chosen_id}"
            customers = _customer_links(engine(), search, _kept(link_key, linked=current_customer))
            customer_options = list(customers)
            rep_options = list(reps)
            link_customer = st.selectbox(
                "Linked customer",
                customer_options,
                index=customer_options.index(current_customer)
                if current_customer is not None
                else 0,
                format_func=customers.__getitem__,
                key=link_key,
            )
            link_rep = st.selectbox(
                "Linked sales representative",
                rep_options,
                index=rep_options.index(current_rep) if current_rep is not None else 0,
                format_func=reps.__getitem__,
                key=f"admin_link_rep_{chosen_id}",
            )
            if st.button("Save links", key=f"admin_save_links_{chosen_id}"):
                _attempt(
                    lambda: admin_ops.link_user(
                        engine(),
                        user_id=chosen_id,
                        customer_id=link_customer,
                        sales_rep_id=link_rep,
                        actor=user.username,
                    ),
                    f"Links of {chosen.username} saved.",
                )
        with password_col, st.form(f"admin_reset_{chosen_id}", clear_on_submit=True):
            reset_to = st.text_input(
                "New password",
                type="password",
                key=f"admin_reset_password_{chosen_id}",
                help="8 to 72 bytes. Tell the user over a channel you trust.",
            )
            if st.form_submit_button("Reset password", icon=":material/key:"):
                _attempt(
                    lambda: admin_ops.reset_password(
                        engine(), user_id=chosen_id, new_password=reset_to, actor=user.username
                    ),
                    f"Password of {chosen.username} reset.",
                )


if users_tab.open:
    with users_tab:
        shown_users = users.drop(columns=["customer_id", "sales_rep_id"]).assign(
            roles=users["roles"].map(
                lambda roles: ", ".join(role_label(r) for r in roles.split(", ") if r)
            )
        )
        standard_table(
            shown_users,
            key="admin_users_table",
            file_name="users",
            column_config={
                "user_id": st.column_config.NumberColumn("Id", format="%d"),
                "username": "Username",
                "name": "Name",
                "email": "Email",
                "active": st.column_config.CheckboxColumn("Active"),
                "roles": "Roles",
                "customer": "Linked customer",
                "sales_rep": "Linked sales rep",
                "created_at": datetime_column("Created"),
            },
            empty_message="No users yet.",
        )

        if read_only:
            st.caption(READ_ONLY_NOTE)
        else:
            _user_forms()


def _setting_text(value) -> str:
    """A setting's value as people write it: yes/no, 0.95, 25, text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def _setting_input(row, key: str):
    """The widget that fits the setting's type; bounds are checked by the write side."""
    bounds = []
    if row.minimum is not None:
        bounds.append(f"at least {row.minimum:g}")
    if row.maximum is not None:
        bounds.append(f"at most {row.maximum:g}")
    help_text = row.help + (f" Allowed: {' and '.join(bounds)}." if bounds else "")
    label = f"New value for {setting_label(row.key)}"
    if isinstance(row.default, bool):
        return st.checkbox(label, value=bool(row.value), key=key, help=help_text)
    if isinstance(row.default, int):
        return st.number_input(label, value=int(row.value), step=1, key=key, help=help_text)
    if isinstance(row.default, float):
        return st.number_input(
            label, value=float(row.value), step=0.01, format="%.3f", key=key, help=help_text
        )
    return st.text_input(label, value=str(row.value), key=key, help=help_text)


if settings_tab.open:
    with settings_tab:
        table = [
            {
                "setting": setting_label(row.key),
                "value": _setting_text(row.value),
                "default": _setting_text(row.default),
                "minimum": row.minimum,
                "maximum": row.maximum,
                "what it does": row.help,
                "changed by": row.updated_by,
                "changed at": row.updated_at,
            }
            for row in settings
        ]
        standard_table(
            pd.DataFrame(table),
            key="admin_settings_table",
            file_name="settings",
            column_config={
                "setting": "Setting",
                "value": "Value",
                "default": "Default",
                "minimum": st.column_config.NumberColumn("Minimum", format="%g"),
                "maximum": st.column_config.NumberColumn("Maximum", format="%g"),
                "what it does": st.column_config.TextColumn("What it does", width="large"),
                "changed by": "Changed by",
                "changed at": datetime_column("Changed"),
            },
        )
        if read_only:
            st.caption(READ_ONLY_NOTE)
        else:
            rows_by_key = {row.key: row for row in settings}
            key = st.selectbox(
                "Setting to change",
                list(rows_by_key),
                format_func=setting_label,
                key="admin_setting_key",
            )
            row = rows_by_key[key]
            st.caption(
                f"{plain(row.help)} Current value: **{plain(_setting_text(row.value))}** "
                f"(default {plain(_setting_text(row.default))})."
            )
            with st.form(f"admin_setting_form_{key}"):
                value = _setting_input(row, key=f"admin_setting_value_{key}")
                save = st.form_submit_button("Save setting", icon=":material/save:")
            if save:
                _attempt(
                    lambda: admin_ops.set_setting(
                        engine(), key=key, value=value, actor=user.username
                    ),
                    f"{setting_label(key)} is now {_setting_text(value)}.",
                )


usernames = {int(r.user_id): r.username for r in users.itertuples()}
names = {r.username: r.name for r in users.itertuples()}


def _person(username) -> str:
    """ "Morgan Hale (manager)" for a user; anything else (a job, the system) as recorded."""
    name = names.get(username)
    return f"{name} ({username})" if name else str(username)


def _which(entity: str, entity_id) -> str:
    """The audited thing by its name: a user's username, a setting's label; otherwise its id."""
    if entity_id is None or entity_id == "":
        return ""
    if entity == "user" and str(entity_id).isdigit():
        return usernames.get(int(entity_id), str(entity_id))
    if entity == "setting":
        return setting_label(str(entity_id))
    return str(entity_id)


if audit_tab.open:
    with audit_tab:
        with read_connection(engine()) as conn:
            actors = audit_actors(conn)
            entities = audit_entities(conn)
        f1, f2, f3 = st.columns(3)
        actor = f1.selectbox(
            "Who",
            [ALL, *actors],
            format_func=lambda a: a if a == ALL else _person(a),
            key="admin_audit_actor",
        )
        entity = f2.selectbox("What", [ALL, *entities], key="admin_audit_entity")
        today = dt.date.today()
        period = f3.date_input(
            "When",
            value=(today - dt.timedelta(days=AUDIT_DAYS_DEFAULT), today),
            key="admin_audit_period",
            format="DD/MM/YYYY",
        )
        since, until = (period[0], period[-1]) if period else (None, None)
        with read_connection(engine()) as conn:
            entries = audit_entries(
                conn,
                actor=None if actor == ALL else actor,
                entity=None if entity == ALL else entity,
                since=since,
                until=until,
            )
        if len(entries) >= DEFAULT_LIMIT:
            st.caption(
                f"Showing the newest {DEFAULT_LIMIT:,} entries; narrow the filters to see older ones."
            )
        readable = entries.assign(
            actor=entries["actor"].map(_person),
            entity_id=[
                _which(e, i) for e, i in zip(entries["entity"], entries["entity_id"], strict=True)
            ],
            change=[
                describe_change(b, a)
                for b, a in zip(entries["before"], entries["after"], strict=True)
            ],
        )[["at", "actor", "action", "entity", "entity_id", "change", "note"]]
        standard_table(
            readable,
            key="admin_audit_table",
            file_name="audit_log",
            column_config={
                "at": datetime_column("When"),
                "actor": "Who",
                "action": "Action",
                "entity": "What",
                "entity_id": "Which",
                "change": st.column_config.TextColumn("Change", width="large"),
                "note": "Note",
            },
            empty_message="No audit entries match these filters.",
            empty_hint="Widen the date range or choose (all) for who and what.",
        )

if models_tab.open:
    with models_tab:
        st.caption(
            "The newest successful run of each kind is the model in use; until one exists the app "
            "uses the simple method shown. The `retrain-models` job trains (see Jobs), or run "
            "`python -m models.train`; every run and its metrics are kept."
        )
        with read_connection(engine()) as conn:
            overview = model_overview(conn)
            demand_backtest = demand_backtest_table(conn)
        standard_table(
            overview,
            key="admin_models_table",
            file_name="models_in_use",
            column_config={
                "model": "Model",
                "method": st.column_config.TextColumn("Method in use", width="medium"),
                "run": st.column_config.NumberColumn("Run", format="%d"),
                "version": "Version",
                "trained": datetime_column("Trained (UTC)"),
                "result": st.column_config.TextColumn("Backtest result", width="large"),
            },
        )
        st.subheader("Demand backtest: the model against its baselines")
        if "method" in demand_backtest:
            demand_backtest = demand_backtest.assign(
                method=demand_backtest["method"].map(method_label)
            )
        standard_table(
            demand_backtest,
            key="admin_demand_backtest",
            file_name="demand_backtest",
            column_config={
                name: (
                    st.column_config.TextColumn(metric_label(name), width="medium")
                    if name == "method"
                    else st.column_config.NumberColumn(metric_label(name), format="%.3f")
                )
                for name in demand_backtest.columns
            },
            empty_message="The demand model has not been trained on this database yet.",
            empty_hint="Run `python -m models.train`; its rolling-origin backtest appears here.",
        )

if outbox_tab.open:
    with outbox_tab:
        show_outbox(engine(), user.username)

if jobs_tab.open:
    with jobs_tab:
        jobs_panel(engine())

if import_tab.open:
    with import_tab:
        show_import(engine(), user.username, read_only=read_only)

if export_tab.open:
    with export_tab:
        export_panel(engine())
