# Licensed under the Apache License, Version 2.0.
"""Exceptions raised by the vendor clients and hooks. Messages never carry a secret."""

from __future__ import annotations


class EmailVerificationError(Exception):
    """
    Base error of every vendor call.

    :param message: human text (already redacted).
    :param vendor: vendor key (``neverbounce``, ``bouncer``, ...).
    :param http_status: HTTP status of the vendor's answer, if there was one.
    :param vendor_message: the vendor's own error text, verbatim.
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str | None = None,
        http_status: int | None = None,
        vendor_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.http_status = http_status
        self.vendor_message = vendor_message

    def __reduce__(self):
        # Keep keyword attributes across pickling (Airflow ships exceptions between processes).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls, message, state):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class AuthenticationError(EmailVerificationError):
    """The key, secret or token was refused."""


class InsufficientCreditsError(EmailVerificationError):
    """The account cannot pay for the request."""


class ThrottledError(EmailVerificationError):
    """The vendor rate-limited the request (retried by the clients)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransientError(EmailVerificationError):
    """5xx, a vendor's temporary-unavailability status, a dropped connection or a timeout (retried)."""


class JobNotFoundError(EmailVerificationError):
    """The job id is unknown to the vendor (or was deleted)."""


class PayloadTooLargeError(EmailVerificationError):
    """The submitted list exceeds the vendor's size limit."""


class JobNotReadyError(EmailVerificationError):
    """Results were asked for before the job completed (or the job's state forbids the action)."""


class InvalidRequestError(EmailVerificationError):
    """A parameter is missing or invalid (not retried)."""


class JobCreationUncertainError(EmailVerificationError):
    """
    A job-creating request may have reached the vendor, but no answer came back, and the vendor
    cannot look jobs up by name: a job may exist. Not retried (and not a :class:`TransientError`),
    so nothing submits the list a second time and pays twice.

    :param job_id: the vendor job that may be running and paid for, when its id is known (e.g. a
        Bouncify list that was uploaded but whose start got no answer); wait on it rather than
        submitting again.
    """

    def __init__(self, message: str, *, job_id: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.job_id = job_id
