"""The state of one pytest run, free of pytest: settings, backends, and the legs collected.

The plugin stores one ``RunState`` on the config; hooks feed it, fixtures read
it. On xdist each worker has its own (provisioning, running legs) and the
controller's only collects the legs the workers report.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Callable

from sqlalchemy import MetaData

from dualdb.engines.provision import Backend, Provisioner
from dualdb.capture.events import StatementCapture
from dualdb.capture.recorder import LegRecorder
from dualdb.compare import pair_verdict, verdict_notes
from dualdb.config import Settings
from dualdb.engines.instrument import instrument
from dualdb.capture.process_state import EnvironTimelines, SeededEntropy
from dualdb.records import BackendInfo, LegPayload, SchemaFinding
from dualdb.engines.schema import resolve_metadata


class RunState:
    def __init__(self, settings: Settings, worker: str = "main"):
        self.settings = settings
        self.worker = worker
        self.provisioner = Provisioner(settings, self._load_metadata, worker)
        self.captures: dict[str, StatementCapture] = {}
        self._prepared: set[str] = set()
        self.xdist_controller = False  # set when xdist workers were configured from this process
        self.worker_legs = None  # run.pairing.WorkerLegs on an xdist worker
        self.extra_captures: dict[str, list[StatementCapture]] = {}  # e.g. the async engine's
        self.schema_findings: list[SchemaFinding] = []  # from legs (xdist workers) and local runs
        self.legs: dict[str, Mapping[str, LegPayload]] = {}  # test id -> backend -> leg
        self.reruns: dict[str, dict[str, list[LegPayload]]] = {}  # test id -> backend -> re-run legs
        self.backend_info: dict[str, BackendInfo] = {}
        self.warnings: list[str] = []
        self.environ = EnvironTimelines()  # one leg's os.environ changes don't reach the other engine's legs
        self.entropy = SeededEntropy()  # both legs of a test draw the same os.urandom bytes
        self.unseed: Callable[[], None] | None = None  # undoes capture.reseed.seed_hypothesis after the leg
        self._sent: dict[str, list[Any]] = {"backend_info": [], "warnings": [], "schema_findings": []}

    def _load_metadata(self) -> list[MetaData]:
        return resolve_metadata(self.settings.metadata_specs)

    # -- backends ------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        backend = self.provisioner.get(name)
        if name not in self._prepared:
            self._prepared.add(name)
            # statements are only compared in a dual run: don't pay for capture otherwise
            capture = instrument(backend.engine, backend, capture=self.settings.dual)
            if capture is not None:
                self.captures[name] = capture
        self.backend_info[name] = backend.describe()
        for warning in self.provisioner.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)
        return backend

    def attach_engine(self, name: str, engine: Any) -> StatementCapture:
        """Another engine on backend ``name`` (the async engine), instrumented like the main one:
        its statements feed the same legs, its errors get the same notes. Returns its capture."""
        backend = self.backend(name)
        capture = instrument(engine, backend)
        self.extra_captures.setdefault(name, []).append(capture)
        main = self.captures.get(name)
        if main is not None and main.leg is not None:
            capture.start(main.leg)
        return capture

    def local_schema_findings(self) -> list[SchemaFinding]:
        return self.provisioner.schema_findings()

    def payload_context(self, backend: str) -> dict[str, Any]:
        """The backend's description, warnings and schema findings not sent with an earlier leg.

        Every leg reaches the collector, so each piece travels once instead of
        with each of thousands of xdist reports.
        """
        sent = self._sent
        info = self.backend_info.get(backend)
        context: dict[str, Any] = {
            "backend_info": info if info is not None and (backend, info) not in sent["backend_info"] else None,
            "warnings": [w for w in self.warnings if w not in sent["warnings"]],
            "schema_findings": [f for f in self.local_schema_findings() if f not in sent["schema_findings"]],
        }
        if context["backend_info"] is not None:
            sent["backend_info"].append((backend, info))
        sent["warnings"].extend(context["warnings"])
        sent["schema_findings"].extend(context["schema_findings"])
        return context

    def new_leg(self, backend: str) -> LegRecorder:
        return LegRecorder(
            backend=backend,
            max_statements=self.settings.max_statements,
            max_rows=self.settings.max_rows,
            max_cells=self.settings.max_cells,
        )

    def start_capture(self, leg: LegRecorder) -> None:
        for capture in [self.captures.get(leg.backend), *self.extra_captures.get(leg.backend, ())]:
            if capture is not None:
                capture.start(leg)

    def stop_capture(self, leg: LegRecorder) -> None:
        for capture in [self.captures.get(leg.backend), *self.extra_captures.get(leg.backend, ())]:
            if capture is not None and capture.leg is leg:
                capture.stop()

    # -- results -------------------------------------------------------------------

    def record_leg(self, nodeid: str, backend: str, leg: LegPayload) -> None:
        legs = dict(self.legs.get(nodeid, ()))  # a copy: an agreed pair may be a shared, read-only record
        legs[backend] = leg
        if len(legs) == 2 and not all(leg.compared for leg in legs.values()):
            drop_evidence_if_same(nodeid, legs)
        if len(legs) == 2 and all(leg.agreed for leg in legs.values()):
            # most pairs of a long run: keep only what a `same` entry shows, most often one shared record
            self.legs[nodeid] = agreed_pair(next(iter(legs.values())).nodeid, legs)
        else:
            self.legs[nodeid] = legs
        if leg.backend_info:
            self.backend_info.setdefault(backend, leg.backend_info)
        for warning in leg.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)
        for finding in leg.schema_findings:
            if finding not in self.schema_findings:
                self.schema_findings.append(finding)

    def record_rerun(self, leg: LegPayload) -> None:
        """A leg of a diverged test, run again after the run (``dualdb_reruns``)."""
        self.reruns.setdefault(leg.nodeid, {}).setdefault(leg.backend, []).append(leg)

    def diverged_tests(self) -> list[str]:
        """Tests whose two legs diverged (acknowledged ones excluded), in the order they ran."""
        out = []
        for nodeid, legs in self.legs.items():
            if len(legs) == 2 and not any(leg.agreed for leg in legs.values()):
                if not any(leg.known for leg in legs.values()) and pair_verdict(legs).verdict == "diverged":
                    out.append(nodeid)
        return out

    def all_schema_findings(self) -> list[SchemaFinding]:
        """Schema findings of the whole run: the workers' and this process's own, each once."""
        for finding in self.local_schema_findings():
            if finding not in self.schema_findings:
                self.schema_findings.append(finding)
        return list(self.schema_findings)

    def close(self) -> list[str]:
        return self.provisioner.close()


def agreed_pair(nodeid: str, legs: dict[str, LegPayload]) -> Mapping[str, LegPayload]:
    """The legs of a pair that agreed, as small as the report's ``same`` entry needs them.

    A pair with nothing of its own to show (no error, observations, notes or
    ``dualdb_known`` marker: most pairs of a long run) is one shared, read-only
    record per combination of outcomes, so 10,000 agreeing tests cost their
    test ids and not 20,000 leg records; its legs' ``nodeid`` is empty (the
    test id is the collector's key). Any other pair keeps a trimmed copy of each leg.
    """
    if all(_nothing_to_show(leg) for leg in legs.values()):
        key = tuple((name, leg.outcome, leg.database_test) for name, leg in legs.items())
        shared = _SHARED_PAIRS.get(key)
        if shared is None:
            shared = _SHARED_PAIRS[key] = MappingProxyType({name: agreed_record("", leg) for name, leg in legs.items()})
        return shared
    return {name: agreed_record(nodeid, leg) for name, leg in legs.items()}


_SHARED_PAIRS: dict[tuple, Mapping[str, LegPayload]] = {}


def _nothing_to_show(leg: LegPayload) -> bool:
    return not (leg.error or leg.observations or leg.dropped_statements or leg.notes or leg.harness_notes
                or leg.known)


def agreed_record(nodeid: str, leg: LegPayload) -> LegPayload:
    """A leg of a pair that agreed, trimmed to what a `same` entry shows.

    Its outcome, error, observations, notes and ``dualdb_known`` marker; no
    statements, start time or context (``record_leg`` took the backend's
    description, warnings and schema findings already); empty fields share
    one empty tuple.
    """
    return LegPayload(
        nodeid=nodeid, backend=leg.backend, outcome=leg.outcome, error=leg.error,
        observations=leg.observations or (), statements=(), dropped_statements=leg.dropped_statements,
        notes=leg.notes or (), harness_notes=leg.harness_notes or (), known=leg.known, warnings=(),
        schema_findings=(), compared=True, agreed=True, database_test=leg.database_test,
    )


def drop_evidence_if_same(nodeid: str, legs: dict[str, LegPayload]) -> str | None:
    """Free the captured statements of a test whose legs agree: the report never shows them.

    Keeps a long run's memory flat (most tests are ``same``), and on xdist
    keeps the evidence off the wire; notes the comparison produced are kept
    on the leg. Legs are marked ``compared`` so the controller doesn't redo it.
    Returns the verdict (``None`` for a ``dual`` test, which compared itself).
    """
    if any(leg.paired_difference for leg in legs.values()):
        return None
    verdict = pair_verdict(legs)
    for leg in legs.values():
        leg.compared = True
    if verdict.verdict != "same":
        return verdict.verdict
    first = next(iter(legs.values()))
    first.harness_notes = verdict_notes(legs, verdict)
    for leg in legs.values():
        leg.statements = []
        leg.agreed = True  # the verdict needed the statements (values sent differently): keep it
    return verdict.verdict
