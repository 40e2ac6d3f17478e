"""The digest that tells a cached read's body from its former self."""

from __future__ import annotations

from ui.code_digest import code_digest


def _define(source: str):
    scope: dict = {}
    exec(compile(source, "page.py", "exec"), scope)  # a page script defines its reads each run
    return scope["read"]


def test_the_same_body_compiled_again_has_the_same_digest():
    source = "def read(engine, f):\n    return ov.rollup_sums(engine, f, key=lambda r: r[0])\n"
    assert code_digest(_define(source)) == code_digest(_define(source))


def test_a_body_that_calls_another_function_has_another_digest():
    one = _define("def read(engine, f):\n    return ov.rollup_sums(engine, f)\n")
    other = _define("def read(engine, f):\n    return ov.rollup_records(engine, f)\n")
    assert code_digest(one) != code_digest(other)


def test_a_changed_constant_or_nested_call_changes_the_digest():
    base = "def read(engine):\n    return [x for x in q.{name}(engine, {n})]\n"
    digests = {
        code_digest(_define(base.format(name=name, n=n)))
        for name in ("rows", "sums")
        for n in (1, 2)
    }
    assert len(digests) == 4
