"""Chart encodings are altair's channel objects, never strings or plain dicts (see ui.charts).

A string (``x="x:Q"``) or a dict (``alt.value(...)``, ``alt.condition(...)``) makes altair look
the channel's class up among all of its schema classes on every chart built: milliseconds per
channel on every first run of a page. The same spec comes from the channel object.
"""

from __future__ import annotations

import ast
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from ui.charts import conditional

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*REPO_ROOT.glob("pages/*.py"), *REPO_ROOT.glob("ui/*.py")])
DICT_MAKERS = {"value", "condition"}


def _plain(value: ast.expr) -> bool:
    """A string, a plain dict, or a call of ``alt.value``/``alt.condition``."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return True
    if isinstance(value, ast.Dict):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in DICT_MAKERS
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id == "alt"
    )


def plain_channels(source: str) -> list[str]:
    """``line: channel=value`` for every encoding in ``source`` given as a string or dict."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "encode":
            continue
        for keyword in node.keywords:
            value = keyword.value
            items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            found += [
                f"{item.lineno}: {keyword.arg}={ast.unparse(item)}"
                for item in items
                if _plain(item)
            ]
    return found


def test_the_finder_sees_strings_and_dicts_and_lets_objects_pass():
    source = (
        'c.encode(x="x:Q", y=alt.Y("y:Q"), tooltip=["a:N", alt.Tooltip("b:N")],\n'
        '         color=alt.condition(p, alt.value("red"), alt.value("grey")),\n'
        "         opacity=conditional(alt.OpacityValue, p, 1.0, 0.3), size=alt.value(3))\n"
        'text.encode("utf-8")\n'
    )
    assert plain_channels(source) == [
        "1: x='x:Q'",
        "1: tooltip='a:N'",
        "2: color=alt.condition(p, alt.value('red'), alt.value('grey'))",
        "3: size=alt.value(3)",
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_charts_give_their_channels_as_objects(path):
    assert plain_channels(path.read_text()) == []


def test_conditional_gives_the_spec_of_alt_condition():
    frame = pd.DataFrame({"x": [1, 2], "t": ["a", "b"]})
    pick = alt.selection_point(name="pick", fields=["t"])
    as_dicts = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("x:Q"),
            color=alt.condition(pick, alt.value("#111111"), alt.value("#cccccc")),
            opacity=alt.condition(alt.datum.x < 2, alt.value(1.0), alt.value(0.3)),
        )
    )
    as_objects = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("x:Q"),
            color=conditional(alt.ColorValue, pick, "#111111", "#cccccc"),
            opacity=conditional(alt.OpacityValue, alt.datum.x < 2, 1.0, 0.3),
        )
    )
    assert as_objects.add_params(pick).to_dict() == as_dicts.add_params(pick).to_dict()
