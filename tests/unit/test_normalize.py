"""Canonical values: equal data compares equal across drivers, real differences stay visible."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Boolean, Integer

from dualdb.normalize import MAX_TEXT, Normalizer, canonical_text, normalize

UTC = dt.timezone.utc


def test_decimal_and_float_agree_to_twelve_significant_digits():
    assert normalize(Decimal("1.50")) == normalize(1.5) == 1.5
    assert normalize(Decimal("2.00")) == normalize(2.0) == normalize(2) == 2
    assert normalize(0.1 + 0.2) == normalize(Decimal("0.3"))  # binary vs exact decimal
    assert normalize(Decimal("2.67")) != normalize(Decimal("2.68"))
    assert normalize(float("nan")) == {"$float": "NaN"}
    assert normalize(Decimal("-Infinity")) == {"$float": "-Infinity"}


def test_bool_and_integer_equal_only_in_a_boolean_column():
    n = Normalizer()
    assert n(1, Boolean()) is True and n(0, Boolean()) is False
    assert n(1, Integer()) == 1 and n(1, Integer()) is not True
    assert n(1) == 1 and type(n(1)) is int
    assert n(True) is True


def test_naive_and_aware_datetimes_are_kept_apart():
    naive = normalize(dt.datetime(2024, 3, 1, 10, 0))
    aware = normalize(dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    paris = normalize(dt.datetime(2024, 3, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    assert naive == {"$dt": "2024-03-01T10:00:00"}
    assert aware == paris == {"$dtz": "2024-03-01T10:00:00+00:00"}  # same instant, any offset
    assert naive != aware
    assert normalize(dt.date(2024, 3, 1)) == {"$date": "2024-03-01"}
    assert normalize(dt.timedelta(days=1)) == {"$interval": 86400}


def test_json_is_compared_structurally():
    a = normalize({"b": [1, Decimal("2.5")], "a": {"y": None, "x": True}})
    b = normalize({"a": {"x": True, "y": None}, "b": [1, 2.5]})
    assert canonical_text(a) == canonical_text(b)
    assert normalize('{"a": 1}') != normalize({"a": 1})  # JSON text is not the parsed document
    assert normalize({1, 3, 2}) == [1, 2, 3]


def test_clock_values_inside_the_leg_window_are_masked():
    now = dt.datetime.now(UTC).replace(microsecond=123456)
    n = Normalizer(clock_window=(now - dt.timedelta(seconds=1), now + dt.timedelta(seconds=1)))
    assert n(now) == {"$masked": "clock", "aware": True, "frac": True}
    assert n(now.replace(tzinfo=None)) == {"$masked": "clock", "aware": False, "frac": True}  # utcnow()
    local = now.astimezone().replace(tzinfo=None)
    assert n(local) == {"$masked": "clock", "aware": False, "frac": True}  # local now()
    assert n(now.replace(microsecond=0)) == {"$masked": "clock", "aware": True, "frac": False}  # CURRENT_TIMESTAMP
    assert n(dt.datetime(2024, 1, 1)) == {"$dt": "2024-01-01T00:00:00"}  # fixture data is compared
    assert n.masked == 4


def clock_normalizer() -> tuple[Normalizer, dt.datetime]:
    now = dt.datetime.now(UTC).replace(microsecond=250000)
    return Normalizer(clock_window=(now - dt.timedelta(seconds=1), now + dt.timedelta(seconds=1))), now


@pytest.mark.parametrize(
    "render, form",
    [
        (lambda t: t.isoformat().replace("+00:00", "Z"), {"aware": True, "frac": True, "text": "T6Z"}),
        (lambda t: t.isoformat(), {"aware": True, "frac": True, "text": "T6+hh:mm"}),
        (lambda t: t.replace(tzinfo=None).isoformat(), {"aware": False, "frac": True, "text": "T6"}),
        (lambda t: t.strftime("%Y-%m-%d %H:%M:%S"), {"aware": False, "frac": False, "text": " 0"}),
        (lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000", {"aware": True, "frac": True, "text": "T3+hhmm"}),
    ],
    ids=["Z", "offset", "naive", "sqlite-current-timestamp", "millis-compact-offset"],
)
def test_clock_text_is_masked_with_its_layout(render, form):
    n, now = clock_normalizer()
    assert n(render(now)) == {"$masked": "clock", **form}
    assert n({"created_at": render(now)}) == {"created_at": {"$masked": "clock", **form}}  # a JSON body
    assert n(render(now - dt.timedelta(days=30))) == render(now - dt.timedelta(days=30))  # not the clock: kept


def test_epoch_numbers_in_the_window_are_masked_with_their_unit():
    n, now = clock_normalizer()
    seconds = now.timestamp()
    assert n(int(seconds)) == {"$masked": "clock", "epoch": "s", "number": "int"}
    assert n(seconds) == {"$masked": "clock", "epoch": "s", "number": "float"}
    assert n(int(seconds * 1000)) == {"$masked": "clock", "epoch": "ms", "number": "int"}
    assert n(int(seconds) - 86400 * 365) == int(seconds) - 86400 * 365  # last year: data
    assert n(1_234_567) == 1_234_567
    assert n.row([int(seconds), 5], None, None) == [{"$masked": "clock", "epoch": "s", "number": "int"}, 5]


def test_dates_and_times_of_the_window_are_masked():
    n, now = clock_normalizer()
    assert n(now.date()) == {"$masked": "clock", "form": "date"}
    assert n(now.date() - dt.timedelta(days=3)) == {"$date": (now.date() - dt.timedelta(days=3)).isoformat()}
    assert n(now.time().replace(tzinfo=None)) == {"$masked": "clock", "form": "time", "frac": True}
    assert n.row([now.date().isoformat()], None, None) == [{"$masked": "clock", "form": "date", "text": "iso"}]


def test_random_uuids_are_masked_but_not_other_versions():
    assert normalize(uuid.uuid4()) == {"$masked": "uuid4"}
    assert normalize(str(uuid.uuid4())) == {"$masked": "uuid4"}
    assert normalize(uuid.uuid4().hex) == {"$masked": "uuid4"}
    fixed = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert normalize(fixed) == {"$uuid": str(fixed)}
    assert normalize("not-a-uuid") == "not-a-uuid"


def test_large_values_keep_a_bounded_exact_fingerprint():
    long = "x" * (MAX_TEXT + 1)
    other = "x" * MAX_TEXT + "y"
    a, b = normalize(long), normalize(other)
    assert a["len"] == b["len"] == MAX_TEXT + 1 and a != b
    assert len(json.dumps(a)) < 200
    blob = normalize(bytes(range(256)) * 4)
    assert blob["len"] == 1024 and len(blob["$bytes"]) == 32
    assert normalize(b"\x00\x01") == {"$bytes": "0001"}


def test_objects_without_a_canonical_form_compare_by_repr_without_addresses():
    class Money:
        pass

    assert normalize(Money()) == normalize(Money())
    assert "0x" not in normalize(Money())["$repr"]


def test_rows_dataclasses_and_nesting():
    @dataclass
    class Point:
        x: int
        y: Decimal

    assert normalize(Point(1, Decimal("2.0"))) == {"x": 1, "y": 2}
    assert normalize((1, "a", None)) == [1, "a", None]
    deep: list = []
    cursor = deep
    for _ in range(30):
        cursor.append([])
        cursor = cursor[0]
    assert "$repr" in json.dumps(normalize(deep))


def test_result_rows_apply_processors_then_normalise():
    n = Normalizer()
    row = n.row(('{"a": 1}', 1, 1, "2024-03-01 10:00:00.000000"),
                processors=[json.loads, None, bool, lambda s: dt.datetime.fromisoformat(s)],
                types=[None, Integer(), Boolean(), None])
    assert row == [{"a": 1}, 1, True, {"$dt": "2024-03-01T10:00:00"}]
    broken = n.row(("not json",), processors=[json.loads])
    assert broken == ["not json"]  # a value the processor cannot read is compared raw
