# Licensed under the Apache License, Version 2.0.
"""The vendor-neutral view of a bulk verification job."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class JobState(str, Enum):
    """Neutral job state."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


@dataclass(slots=True)
class JobInfo:
    """
    A vendor job's state in neutral terms.

    :param job_id: vendor job id (always text).
    :param state: neutral :class:`JobState`.
    :param progress: 0.0 - 1.0.
    :param total: addresses in the job, or ``None`` until the vendor knows.
    :param processed: addresses verified so far.
    :param counts: neutral status -> count, where the vendor reports them.
    :param vendor_status: the vendor's own job status, verbatim.
    :param message: the vendor's failure reason, if any; for a job that did not fail, a note on
        how its results differ from the submitted list, if any (Bouncer: repeated addresses merged).
    """

    job_id: str
    state: JobState
    progress: float = 0.0
    total: int | None = None
    processed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    vendor_status: str = ""
    message: str | None = None

    @property
    def is_terminal(self) -> bool:
        return JobState(self.state).is_terminal

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (used in trigger events)."""
        data = asdict(self)
        data["state"] = JobState(self.state).value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobInfo:
        values = dict(data)
        values["state"] = JobState(values["state"])
        return cls(**values)
