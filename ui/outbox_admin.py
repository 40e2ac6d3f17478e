"""The Admin page's Outbox tab: what Larder sent or will send, retry and cancel, and webhooks."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from data.db import read_connection
from operations import outbox as outbox_ops
from operations.dispatcher import dispatch_outbox
from operations.errors import LarderError
from queries.outbox import outbox_counts, outbox_message, outbox_messages, webhooks_table
from ui.components import error_state, kpi_tile, standard_table
from ui.format import count_column, datetime_column

ALL = "(all)"
FLASH_KEY = "admin_flash"  # the Admin page shows (and clears) this message after a rerun
SECRET_KEY = "outbox_new_webhook_secret"


def _attempt(action, success) -> None:
    """Run one write; a refusal shows its message, a success reruns with a message."""
    try:
        result = action()
    except LarderError as err:
        error_state(err)
    else:
        st.session_state[FLASH_KEY] = success(result) if callable(success) else success
        st.rerun()


def outbox_tab(engine: Engine, actor: str) -> None:
    """Counts, the message list, one message in full with Retry/Cancel, then the webhooks."""
    with read_connection(engine) as conn:
        counts = outbox_counts(conn)
    tiles = st.columns(3)
    with tiles[0]:
        kpi_tile("Queued", counts["queued"] + counts["sending"], "Waiting to be sent or retried.")
    with tiles[1]:
        kpi_tile("Sent", counts["sent"], "Accepted by the mail server or webhook receiver.")
    with tiles[2]:
        kpi_tile("Failed", counts["failed"], "Gave up after the last attempt; retry or cancel.")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    status = left.selectbox(
        "Status", [ALL, "queued", "sending", "sent", "failed", "cancelled"], key="outbox_status"
    )
    if right.button("Send due messages now", key="outbox_dispatch", icon=":material/send:"):
        _attempt(
            lambda: dispatch_outbox(engine, worker_id=f"admin:{actor}"),
            lambda counts: (
                f"Dispatched {counts['claimed']} message(s): {counts['sent']} sent, "
                f"{counts['retried']} to retry, {counts['failed']} failed."
            ),
        )
    with read_connection(engine) as conn:
        messages = outbox_messages(conn, status=None if status == ALL else status)
    standard_table(
        messages,
        key="outbox_table",
        file_name="outbox",
        column_config={
            "id": st.column_config.NumberColumn("Id", format="%d"),
            "kind": "Kind",
            "status": "Status",
            "recipients": "To",
            "subject": "Subject / event",
            "attempts": "Attempts",
            "created_at": datetime_column("Queued"),
            "next_attempt_at": datetime_column("Next attempt"),
            "sent_at": datetime_column("Sent"),
            "last_error": "Last reply",
            "ref": "About",
        },
        empty_message="The outbox is empty.",
        empty_hint="Mail and webhook deliveries appear here as soon as something raises them.",
    )
    if not messages.empty:
        _message_detail(engine, actor, messages)
    st.divider()
    _webhooks(engine, actor)


def _message_detail(engine: Engine, actor: str, messages) -> None:
    by_id = {int(r.id): r for r in messages.itertuples()}
    chosen = st.selectbox(
        "Message",
        list(by_id),
        format_func=lambda i: f"#{i} · {by_id[i].status} · {by_id[i].subject}",
        key="outbox_pick",
    )
    with read_connection(engine) as conn:
        detail = outbox_message(conn, chosen)
    if detail is None:
        st.warning("That message is gone; choose another.")
        return
    st.dataframe(
        {"Header": list(detail.headers), "Value": list(detail.headers.values())},
        hide_index=True,
        key=f"outbox_headers_{chosen}",
    )
    if detail.last_error:
        st.caption(f"Last reply: {detail.last_error}")
    st.markdown("**Text**" if detail.kind == "mail" else "**JSON body**")
    st.code(detail.text_body, language=None if detail.kind == "mail" else "json", wrap_lines=True)
    if not detail.attachments.empty:
        st.markdown("**Attachments**")
        st.dataframe(
            detail.attachments,
            hide_index=True,
            key=f"outbox_files_{chosen}",
            column_config={
                "filename": "File",
                "mime_type": "Type",
                "size": count_column("Bytes"),
            },
        )
    if not detail.attempts.empty:
        st.markdown("**Attempts**")
        st.dataframe(
            detail.attempts,
            hide_index=True,
            key=f"outbox_attempts_{chosen}",
            column_config={
                "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "worker": "Dispatcher",
                "outcome": "Outcome",
                "reply": st.column_config.TextColumn("Server's reply", width="large"),
                "duration_ms": count_column("ms"),
            },
        )
    retry_col, cancel_col = st.columns(2)
    if retry_col.button(
        "Retry",
        key="outbox_retry",
        icon=":material/replay:",
        disabled=detail.status not in ("failed", "cancelled"),
        help="Only a failed or cancelled message can be sent again.",
    ):
        _attempt(
            lambda: outbox_ops.retry_message(engine, message_id=chosen, actor=actor),
            f"Message #{chosen} is queued again.",
        )
    if cancel_col.button(
        "Cancel",
        key="outbox_cancel",
        icon=":material/cancel_schedule_send:",
        disabled=detail.status not in ("queued", "failed"),
        help="Only a queued or failed message can be cancelled.",
    ):
        _attempt(
            lambda: outbox_ops.cancel_message(engine, message_id=chosen, actor=actor),
            f"Message #{chosen} is cancelled and will not be sent.",
        )


def _webhooks(engine: Engine, actor: str) -> None:
    st.subheader("Webhooks")
    st.caption(
        "Larder POSTs JSON to each URL when its event happens, signed with the hook's secret: "
        "header X-Larder-Signature is sha256=HMAC-SHA256(secret, timestamp + '.' + body), "
        "with the timestamp in X-Larder-Timestamp."
    )
    secret = st.session_state.pop(SECRET_KEY, None)
    if secret:
        st.info(f"The new hook's signing secret (shown once; store it now): `{secret}`")
    with read_connection(engine) as conn:
        hooks = webhooks_table(conn)
    standard_table(
        hooks,
        key="outbox_webhooks",
        file_name="webhooks",
        column_config={
            "id": st.column_config.NumberColumn("Id", format="%d"),
            "active": st.column_config.CheckboxColumn("Active"),
            "created_at": datetime_column("Created"),
            "disabled_at": datetime_column("Disabled"),
        },
        empty_message="No webhooks yet.",
    )
    with st.form("outbox_new_webhook"):
        left, right = st.columns([1, 2])
        event = left.selectbox("Event", outbox_ops.WEBHOOK_EVENTS, key="outbox_hook_event")
        url = right.text_input(
            "URL", key="outbox_hook_url", placeholder="https://example.com/larder-hook"
        )
        register = st.form_submit_button("Register webhook", icon=":material/webhook:")
    if register:
        try:
            hook_id, new_secret = outbox_ops.create_webhook(
                engine, event=event, url=url, actor=actor
            )
        except LarderError as err:
            error_state(err)
        else:
            st.session_state[SECRET_KEY] = new_secret
            st.session_state[FLASH_KEY] = f"Webhook #{hook_id} registered for {event}."
            st.rerun()
    active = hooks[hooks["active"]] if not hooks.empty else hooks
    if not active.empty:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        choice = left.selectbox(
            "Active webhook",
            [int(i) for i in active["id"]],
            format_func=lambda i: (
                f"#{i} · {active.set_index('id').loc[i, 'event']} · "
                f"{active.set_index('id').loc[i, 'url']}"
            ),
            key="outbox_hook_pick",
        )
        if right.button("Disable", key="outbox_hook_disable", icon=":material/block:"):
            _attempt(
                lambda: outbox_ops.disable_webhook(engine, webhook_id=choice, actor=actor),
                f"Webhook #{choice} is disabled.",
            )
