"""What a paired call gives back: both engines' results, and the error a divergence raises.

Results are compared normalised, with the same ``dualdb.normalize`` rules as the
divergence report: ``Decimal('1.50')`` equals ``1.5``, dict key order does not
matter, a naive datetime never equals an aware one. An engine that raised gives
a ``Raised`` in place of its value, so "one engine raised, the other did not" is
a result to compare, not a crash. ``DivergenceError`` (an ``AssertionError``,
so Hypothesis shrinks it like any other failure) is what a user sees in the
traceback; ``find_divergence_error`` and ``falsifying_example`` dig it and
Hypothesis's note out of what the test finally raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from dualdb.config import BACKEND_NAMES
from dualdb.errors import DivergenceError
from dualdb.dual.display import Verbatim, side_by_side
from dualdb.normalize import canonical_text
from dualdb.records import error_message

HYPOTHESIS_EXAMPLE_NOTES = ("Falsifying example", "Failing test case")


@dataclass(frozen=True)
class Raised:
    """What an engine raised instead of returning a value.

    Two ``Raised`` compare equal when they are the same kind of error: for
    database errors the DB-API category SQLAlchemy maps both drivers to
    (``IntegrityError``, ``DataError``, ``OperationalError`` ...), so
    sqlite3's and psycopg's spellings of one failure are not a difference.
    """

    type: str
    message: str = field(compare=False)
    database: bool = False
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        database = isinstance(exc, (DBAPIError, SQLAlchemyError))
        return cls(type=type(exc).__name__, message=error_message(exc), database=database, exception=exc)

    def describe(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type

    def as_report(self) -> dict[str, str]:
        """The shape ``compare`` uses for a statement that raised: ``{"error": "Type: message"}``."""
        return {"error": self.describe()}


@dataclass
class PairedResult:
    """Both engines' results of one ``run()``: ``result.sqlite``, ``result.postgresql``.

    Unpacks as ``sqlite_value, pg_value = dual.run(...)``. A value is a
    ``Raised`` when that engine raised. ``normalized`` holds the canonical forms
    that are compared; ``statements`` what each engine executed for this call.
    """

    call: str
    args: tuple
    values: dict[str, Any]
    normalized: dict[str, Any]
    statements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    example: int | None = None
    hypothesis: bool = False

    @property
    def sqlite(self) -> Any:
        return self.values["sqlite"]

    @property
    def postgresql(self) -> Any:
        return self.values["postgresql"]

    def __getitem__(self, engine: str) -> Any:
        return self.values[engine]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values[name] for name in BACKEND_NAMES)

    @property
    def same(self) -> bool:
        return self.difference() is None

    def difference(self, ordered: bool = True) -> str | None:
        """``None`` when the engines agree, else the kind: ``value``, ``outcome`` or ``error``."""
        a, b = (self.values[name] for name in BACKEND_NAMES)
        a_raised, b_raised = isinstance(a, Raised), isinstance(b, Raised)
        if a_raised and b_raised:
            return None if a == b else "error"
        if a_raised or b_raised:
            return "outcome"
        left, right = (self.normalized[name] for name in BACKEND_NAMES)
        if not ordered:
            left, right = _as_multiset(left), _as_multiset(right)
        return None if canonical_text(left) == canonical_text(right) else "value"

    def report_values(self) -> dict[str, Any]:
        return {
            name: self.values[name].as_report() if isinstance(self.values[name], Raised) else self.normalized[name]
            for name in BACKEND_NAMES
        }

    def side_by_side(self) -> str:
        return side_by_side(*(self._shown(name) for name in BACKEND_NAMES), headers=BACKEND_NAMES)

    def _shown(self, name: str) -> Any:
        value = self.values[name]
        if isinstance(value, Raised):
            return Verbatim(f"raised {value.describe()}")
        return self.normalized[name]


def _as_multiset(value: Any) -> Any:
    return sorted(value, key=canonical_text) if isinstance(value, list) else value


def divergence_error(result: PairedResult, kind: str, ordered: bool = True,
                     simplified_from: str | None = None) -> DivergenceError:
    """The error a ``dual`` test fails with: what differed, both sides next to each other."""
    what = {
        "value": "returned different results",
        "outcome": "raised on one engine only",
        "error": "raised different errors",
    }[kind]
    lines = [f"SQLite and PostgreSQL disagree on {result.call}: {what} ({kind})", ""]
    lines.append(result.side_by_side())
    if simplified_from:
        lines += ["", f"(simplified by dualdb from Hypothesis's example {simplified_from})"]
    if kind == "value" and ordered and isinstance(result.normalized.get("sqlite"), list):
        lines += ["", "(results are compared in order; pass ordered=False to compare them as a multiset)"]
    return DivergenceError("\n".join(lines), result, kind, ordered, simplified_from)


def find_divergence_error(exc: BaseException | None) -> DivergenceError | None:
    """The ``DivergenceError`` behind what a test raised (itself, in Hypothesis's group, or its cause)."""
    if exc is None:
        return None
    if isinstance(exc, DivergenceError):
        return exc
    for inner in getattr(exc, "exceptions", ()) or ():  # Hypothesis reports several bugs as a group
        found = find_divergence_error(inner)
        if found is not None:
            return found
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc and isinstance(cause, DivergenceError):
        return cause
    return None


def falsifying_example(exc: BaseException | None) -> str | None:
    """Hypothesis's note naming the failing example, if any.

    ``Falsifying example: test_x(...)`` before Hypothesis 6.16x, ``Failing test case: ...`` since.
    """
    found = find_divergence_error(exc) or exc
    for candidate in (found, exc):
        for note in getattr(candidate, "__notes__", ()) or ():
            if str(note).startswith(HYPOTHESIS_EXAMPLE_NOTES):
                return str(note)
    return None
