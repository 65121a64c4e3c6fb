"""Assessment sessions: facts arrive one at a time and the decision follows them.

London 9.1.5: "as more information becomes available the potential risk of harm to the
child/ren may be judged to increase or decrease (i.e. move up or down a scale)". A session keeps
the case's facts in a durable-rules session; each new fact replaces the previous facts there and
the rules are matched again, so the outcome may move up or down.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from .decision import Decision, build
from .derive import CaseView
from .engine import compiled, durable
from .evaluate import case_from_data
from .facts import Case
from .pack import Pack, load_pack

_session_ids = itertools.count()


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise KeyError(f"{path}: {part} is not a group of facts")
        node = nxt
    node[parts[-1]] = value


class AssessmentSession:
    """An assessment in progress under one pack.

    >>> s = AssessmentSession("london", {"assessment_date": "2008-06-01"})  # doctest: +SKIP
    >>> s.set("victim.pregnant", True).outcome.id                          # doctest: +SKIP
    'scale_4'
    """

    def __init__(self, pack: Pack | str, case: Case | dict[str, Any]) -> None:
        self.pack = pack if isinstance(pack, Pack) else load_pack(pack)
        self._engine = durable(self.pack)
        self._sid = f"session{next(_session_ids)}"
        self._facts_no = 0
        self._data: dict[str, Any] = (case.model_dump(exclude_none=True) if isinstance(case, Case)
                                      else dict(case))
        self.case = case_from_data(self._data)
        self.history: list[Decision] = []
        self._asserted: list[tuple[str, dict[str, Any]]] = []
        self._decide()

    @property
    def decision(self) -> Decision:
        return self.history[-1]

    def set(self, path: str, value: Any) -> Decision:
        """Record one fact (dotted path, e.g. ``victim.pregnant``) and return the new decision.

        The whole case is validated again; bad input raises and leaves the session unchanged.
        """
        data = copy.deepcopy(self._data)
        _set_path(data, path, value)
        case = case_from_data(data)
        self._data, self.case = data, case
        return self._decide()

    def update(self, **groups: Any) -> Decision:
        """Record several facts at once: ``update(victim={"pregnant": True})``."""
        data = copy.deepcopy(self._data)
        for key, value in groups.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        case = case_from_data(data)
        self._data, self.case = data, case
        return self._decide()

    def _decide(self) -> Decision:
        self._engine.retract(self._asserted)
        view = CaseView(self.case)
        self._facts_no += 1
        asserted: list[tuple[str, dict[str, Any]]] = []
        match = self._engine.match(view, sid=self._sid, fact_no=self._facts_no, asserted=asserted)
        self._asserted = asserted
        decision = build(self.pack, view, match, compiled(self.pack).compiler, "durable")
        self.history.append(decision)
        return decision

    def close(self) -> None:
        """Drop the session's state in the engine."""
        self._engine.drop(self._sid)

    def __enter__(self) -> AssessmentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
