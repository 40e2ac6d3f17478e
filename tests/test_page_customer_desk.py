"""AppTest of the Customer desk: search, timeline, recording calls, answering, cancelling."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.db import make_engine
from data.schema import SEGMENTS, Communication, Customer, Order, OrderLine
from queries import customer_desks as desks
from tests import apptest_support
from tests.apptest_support import app_test

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url

PAGE = "pages/customer_desk.py"
USER = "service"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def read_db(seeded_db_url):
    engine = make_engine(seeded_db_url)
    yield engine
    engine.dispose()


def _run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _results(at):
    found = [
        d.value
        for d in at.dataframe
        if "order_number" in d.value.columns and "phone" in d.value.columns
    ]
    return found[0] if found else None


def _open_order_with_phone(engine) -> tuple[int, str, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                select(Order.id, Order.number, Customer.phone)
                .join(Customer, Customer.id == Order.customer_id)
                .where(Order.status == "open", Customer.phone.is_not(None))
                .order_by(Order.placed_at.desc())
            ).first()
        )


def _communications(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Communication)).scalar_one()


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def _search_and_open(at, text: str, number: str):
    at.text_input(key="cd_search").input(text)
    _run(at)
    results = _results(at)
    position = results.index[results["order_number"] == number][0]
    at.session_state["cd_results"] = {"selection": {"rows": [int(position)], "columns": []}}
    return _run(at)


def test_search_by_a_part_of_the_phone_number_finds_the_order_case_blind_by_name(read_db):
    order_id, number, phone = _open_order_with_phone(read_db)
    at = _run(app_test(PAGE, USER))
    at.text_input(key="cd_search").input(phone.replace(" ", "")[-7:])
    _run(at)
    assert number in set(_results(at)["order_number"])
    with read_db.connect() as conn:
        name = conn.execute(
            select(Customer.name)
            .join(Order, Order.customer_id == Customer.id)
            .where(Order.id == order_id)
        ).scalar_one()
    at.text_input(key="cd_search").input(name[2:9].upper())
    _run(at)
    assert number in set(_results(at)["order_number"])
    at.text_input(key="cd_search").input("%%%")
    _run(at)
    assert _results(at) is None and "No customer or order matches." in at.info[0].value


def test_an_opened_order_shows_its_lines_and_timeline(read_db):
    order_id, number, phone = _open_order_with_phone(read_db)
    at = _search_and_open(_run(app_test(PAGE, USER)), phone, number)
    assert at.subheader[0].value.startswith(number)
    lines = [d.value for d in at.dataframe if "line_status" in d.value.columns][0]
    with read_db.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(OrderLine).where(OrderLine.order_id == order_id)
        ).scalar_one()
    assert len(lines) == count
    timeline = [
        d.value for d in at.dataframe if list(d.value.columns) == ["at", "event", "detail"]
    ][0]
    assert timeline["event"].iloc[0] == "placed"


def test_service_records_a_call_answers_it_and_the_response_kpi_moves(db):
    order_id, number, phone = _open_order_with_phone(db)
    target = desks.desk_settings(db)["response_target_hours"]
    before = desks.service_kpis(db, target_hours=target)
    at = _run(app_test(PAGE, USER))
    _search_and_open(at, phone, number)
    # A call without a subject is refused and nothing is recorded.
    recorded = _communications(db)
    at.button(key="FormSubmitter:cd_record-Record").click()
    _run(at)
    assert "subject" in at.error[0].value.lower()
    assert _communications(db) == recorded
    at.selectbox(key="cd_channel").set_value("phone")
    at.radio(key="cd_direction").set_value("inbound")
    at.text_input(key="cd_subject").input("Where is my delivery?")
    at.button(key="FormSubmitter:cd_record-Record").click()
    _run(at)
    assert at.success[0].value == "Recorded the inbound phone: Where is my delivery?."
    with db.connect() as conn:
        message_id, subject, direction = conn.execute(
            select(Communication.id, Communication.subject, Communication.direction)
            .order_by(Communication.id.desc())
            .limit(1)
        ).one()
    assert (subject, direction) == ("Where is my delivery?", "inbound")
    at.button(key=f"cd_answer_{message_id}").click()
    _run(at)
    with db.connect() as conn:
        answered = conn.execute(
            select(Communication.answered_at).where(Communication.id == message_id)
        ).scalar_one()
    assert answered is not None
    # The answer counts at once: one more answered question in the mean, shown on the tile.
    after = desks.service_kpis(db, target_hours=target)
    assert after["avg_response_hours"] != before["avg_response_hours"]
    (tile,) = [m for m in at.metric if m.label == "Average response time"]
    assert f"({after['unanswered']} still open)" in tile.help
    assert tile.value == f"{after['avg_response_hours']:.1f} h"


def test_cancel_needs_a_reason_and_then_cancels_the_order(db):
    order_id, number, phone = _open_order_with_phone(db)
    at = _search_and_open(_run(app_test(PAGE, USER)), phone, number)
    at.button(key="FormSubmitter:cd_cancel-Cancel it").click()
    _run(at)
    assert "reason" in at.error[0].value.lower()
    with db.connect() as conn:
        assert conn.execute(select(Order.status).where(Order.id == order_id)).scalar_one() == "open"
    at.text_input(key="cd_cancel_reason").input("customer closed for renovation")
    at.button(key="FormSubmitter:cd_cancel-Cancel it").click()
    _run(at)
    with db.connect() as conn:
        row = conn.execute(
            select(Order.status, Order.cancel_reason).where(Order.id == order_id)
        ).one()
    assert tuple(row) == ("cancelled", "customer closed for renovation")


def test_a_customer_without_orders_is_found_by_code_and_a_call_recorded(db):
    code, name = "C90001", "Harbour Street Canteen"
    with Session(db) as session, session.begin():
        newcomer = Customer(
            code=code, name=name, segment=SEGMENTS[0], region="North", tier="bronze"
        )
        session.add(newcomer)
        session.flush()
        customer_id = newcomer.id
    with db.connect() as conn:
        assert (
            conn.execute(select(Order.id).where(Order.customer_id == customer_id)).first() is None
        )
    at = _run(app_test(PAGE, USER))
    at.text_input(key="cd_search").input(code.lower())
    _run(at)
    assert "No order matches." in at.info[0].value
    at.session_state["cd_customers"] = {"selection": {"rows": [0], "columns": []}}
    _run(at)
    assert at.subheader[0].value == f"{name} ({code})"
    at.text_input(key="cd_subject").input("Asked for a price list")
    at.button(key="FormSubmitter:cd_record-Record").click()
    _run(at)
    with db.connect() as conn:
        row = conn.execute(
            select(Communication.customer_id, Communication.order_id, Communication.subject)
            .order_by(Communication.id.desc())
            .limit(1)
        ).one()
    assert tuple(row) == (customer_id, None, "Asked for a price list")


def test_the_weekly_trend_charts_the_service_trend_for_the_response_target(read_db):
    at = _run(app_test(PAGE, USER))
    target = desks.desk_settings(read_db)["response_target_hours"]
    expected = desks.service_trend(read_db, target_hours=target)
    assert not expected.empty
    (chart,) = at.get("vega_lite_chart")
    (data,) = chart.proto.datasets
    charted = pa.ipc.open_stream(io.BytesIO(data.data.data)).read_all().to_pandas()
    key = ["week_ending", "measure"]
    got = charted.sort_values(key).reset_index(drop=True)
    want = expected.sort_values(key).reset_index(drop=True)
    assert list(got["measure"]) == list(want["measure"])
    assert got["value"].tolist() == pytest.approx(want["value"].tolist(), nan_ok=True)
    # Drawn again from the kept spec: the same rows, nothing built anew.
    _run(at)
    (again,) = at.get("vega_lite_chart")
    assert again.proto.datasets[0].data.data == data.data.data
