# Licensed under the Apache License, Version 2.0.
"""
Where the addresses to verify come from: a Python list, a file (local or any object store) or a
SQL query, read as one stream of records in constant memory.

Every input becomes an iterator of dicts ``{"email": ..., **extra}``: extra fields (other CSV
columns, other SQL columns, other keys of a dict) pass through untouched. Blank lines and empty
rows are skipped *and counted* (:attr:`RecordStream.rejected`); anything else that cannot be
submitted (a row without an address, an address that is not text, a header without the address
column) raises :class:`ValueError` naming the row or field. Nothing is dropped silently.

Nothing heavy is imported at module level: DAG files import the operator, which imports this.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import BinaryIO

    from airflow.providers.common.sql.hooks.sql import DbApiHook

__all__ = ["RecordStream", "batched", "iter_records"]

#: Rows fetched per round trip from a database cursor.
SQL_FETCH_SIZE = 5_000
#: How many rejected row numbers a stream remembers for the log.
_REJECTED_EXAMPLES = 20
#: Delimiters tried on a CSV header line, in order.
_DELIMITERS = (",", ";", "\t", "|")


class RecordStream(Iterator[dict[str, Any]]):
    """
    An iterator of records ``{"email": ..., **extra}`` that counts what it read and skipped.

    :param description: what is being read, for log lines (``"file s3://bucket/list.csv"``).
    :param produce: called once with this stream; returns the generator of records. It calls
        :meth:`reject` for every blank line or empty row it skips.

    .. attribute:: read

        Records yielded so far (skipped rows are not included).

    .. attribute:: rejected

        Blank lines / empty rows skipped so far; :attr:`rejected_rows` holds the first few of
        their row numbers (1-based, as a person counts lines of the file or rows of the result).
    """

    def __init__(self, description: str, produce: Callable[[RecordStream], Iterator[dict[str, Any]]]) -> None:
        self.description = description
        self.read = 0
        self.rejected = 0
        self.rejected_rows: list[int] = []
        self._records = produce(self)

    def reject(self, row: int) -> None:
        """Count a skipped blank line or empty row (``row`` is its 1-based number)."""
        self.rejected += 1
        if len(self.rejected_rows) < _REJECTED_EXAMPLES:
            self.rejected_rows.append(row)

    def __iter__(self) -> RecordStream:
        return self

    def __next__(self) -> dict[str, Any]:
        record = next(self._records)
        self.read += 1
        return record

    def close(self) -> None:
        """Release the file or database cursor early (done automatically at the end of the stream)."""
        close = getattr(self._records, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def summary(self) -> str:
        """One line for the task log: ``read 1000 records from ...; skipped 2 blank rows (3, 9)``."""
        text = f"read {self.read} record(s) from {self.description}"
        if self.rejected:
            shown = ", ".join(str(n) for n in self.rejected_rows)
            more = ", ..." if self.rejected > len(self.rejected_rows) else ""
            text += f"; skipped {self.rejected} blank line(s)/empty row(s) (row {shown}{more})"
        return text

    def __repr__(self) -> str:
        return f"<RecordStream {self.description!r} read={self.read} rejected={self.rejected}>"


def iter_records(
    *,
    emails: Iterable[str | Mapping[str, Any]] | None = None,
    source: Any = None,
    email_column: str = "email",
    sql: str | None = None,
    sql_conn_id: str | None = None,
) -> RecordStream:
    """
    Stream records to verify from exactly one input.

    :param emails: addresses (strings), or dicts holding the address under ``email_column``
        (default ``email``) plus fields to pass through; any iterable, consumed lazily. The JSON
        or Python-literal text of such a list (what a template renders) is accepted too.
    :param source: a file: a local path, a ``s3://...`` (or any other object-storage) URL, or an
        ``ObjectStoragePath``; ``s3://conn_id@bucket/key`` picks the AWS connection. Either a CSV
        with a header row containing ``email_column`` (other columns pass through; ``,``, ``;``,
        tab or ``|`` separated) or one address per line. Gzip when the name ends in ``.gz``.
        Read as a stream, never whole.
    :param email_column: the column / key holding the address. The output key is always ``email``.
    :param sql: a query whose rows to verify (with ``sql_conn_id``); read through a server-side
        cursor where the database has one (PostgreSQL, MySQL/MariaDB), ``fetchmany`` otherwise.
    :param sql_conn_id: any Airflow SQL connection (its hook must be a ``DbApiHook``).
    :return: a :class:`RecordStream`.
    """
    given = [name for name, value in (("emails", emails), ("source", source), ("sql", sql)) if value is not None]
    if len(given) != 1:
        raise ValueError(
            "pass exactly one of emails=, source= or sql= (with sql_conn_id=); got "
            + (", ".join(given) if given else "none")
        )
    if not email_column or not isinstance(email_column, str):
        raise ValueError(f"email_column must be a non-empty column name, got {email_column!r}")
    if sql is not None:
        if not sql_conn_id:
            raise ValueError("sql= needs sql_conn_id= (the Airflow connection to run it on)")
        return RecordStream(
            f"query on {sql_conn_id!r}", lambda stream: _sql_records(stream, sql, sql_conn_id, email_column)
        )
    if sql_conn_id is not None:
        raise ValueError("sql_conn_id= is only used with sql=")
    if emails is not None:
        if isinstance(emails, str):
            emails = _parse_rendered_list(emails)
        if isinstance(emails, (str, bytes, Mapping)):
            raise ValueError(f"emails must be a list of addresses or of dicts, got a {type(emails).__name__}")
        return RecordStream("the emails list", lambda stream: _list_records(stream, emails, email_column))
    return RecordStream(f"file {_source_name(source)}", lambda stream: _file_records(stream, source, email_column))


def batched(records: Iterable[dict[str, Any]], size: int) -> Iterator[Iterator[dict[str, Any]]]:
    """
    Split a record stream into consecutive sub-iterators of at most ``size`` records each.

    Lazy: no batch is ever held as a list, so a batch can go straight into one vendor job as a
    stream. Because the batches share the underlying iterator, **each batch must be consumed to
    the end before asking for the next one**; asking early raises ``RuntimeError`` rather than
    silently skipping the rest of the unfinished batch. Empty input yields no batch.

    :param records: the records (usually a :class:`RecordStream`).
    :param size: the largest batch (a vendor's maximum job size).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"batch size must be a positive integer, got {size!r}")
    iterator = iter(records)
    current: _Batch | None = None
    while True:
        if current is not None and not current.exhausted:
            raise RuntimeError("consume each batch to the end before asking for the next one")
        try:
            first = next(iterator)
        except StopIteration:
            return
        current = _Batch(first, iterator, size)
        yield current


class _Batch(Iterator[dict[str, Any]]):
    """One batch of :func:`batched`: the first record, then up to ``size - 1`` more."""

    def __init__(self, first: dict[str, Any], rest: Iterator[dict[str, Any]], size: int) -> None:
        self._first: dict[str, Any] | None = first
        self._rest = rest
        self._left = size
        self.exhausted = False

    def __iter__(self) -> _Batch:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._first is not None:
            record, self._first = self._first, None
            self._left -= 1
            return record
        if self._left <= 0:
            self.exhausted = True
            raise StopIteration
        try:
            record = next(self._rest)
        except StopIteration:
            self.exhausted = True
            raise
        self._left -= 1
        return record


# -- shared checks -------------------------------------------------------------------------------
def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _record(
    row: Mapping[str, Any], email_column: str, where: str, *, hint: str = ""
) -> dict[str, Any]:
    """``{"email": address, **other fields}`` from one row, or a ``ValueError`` naming ``where``."""
    if email_column not in row:
        raise ValueError(f"{where} has no {email_column!r} field{hint}")
    value = row[email_column]
    if _is_blank(value):
        raise ValueError(f"{where} has no address in {email_column!r}{hint}")
    if not isinstance(value, str):
        raise ValueError(f"{where}: {email_column!r} is a {type(value).__name__} ({value!r}), not text")
    record = {"email": value.strip()}
    for key, item in row.items():
        if key == email_column:
            continue
        if key == "email":
            raise ValueError(
                f"{where} has a field 'email' as well as the address column {email_column!r}; "
                "rename one of them so neither is lost"
            )
        record[key] = item
    return record


def _match_column(names: list[str], email_column: str) -> str | None:
    """The column called ``email_column``: exactly, else ignoring case and surrounding spaces."""
    if email_column in names:
        return email_column
    wanted = email_column.strip().lower()
    return next((name for name in names if str(name).strip().lower() == wanted), None)


def _parse_rendered_list(text: str) -> Any:
    """
    A list from what a template renders (``"{{ ti.xcom_pull(...) }}"`` gives its JSON or Python
    literal text unless the DAG renders native objects); any other text is returned unchanged.
    """
    stripped = text.strip()
    if not stripped.startswith("["):
        return text
    import ast
    import json

    for loader in (json.loads, ast.literal_eval):
        try:
            value = loader(stripped)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, list):
            return value
    raise ValueError(f"emails {stripped[:80]!r} looks like a list but is neither JSON nor a Python literal")


# -- lists ---------------------------------------------------------------------------------------
def _list_records(
    stream: RecordStream, emails: Iterable[str | Mapping[str, Any]], email_column: str
) -> Iterator[dict[str, Any]]:
    for index, item in enumerate(emails):
        if isinstance(item, str):
            if not item.strip():
                stream.reject(index + 1)
                continue
            yield {"email": item.strip()}
        elif isinstance(item, Mapping):
            if not item or all(_is_blank(value) for value in item.values()):
                stream.reject(index + 1)
                continue
            yield _record(item, email_column, f"emails[{index}]")
        else:
            raise ValueError(
                f"emails[{index}] is a {type(item).__name__} ({item!r}); expected an address or a dict "
                f"with an {email_column!r} key"
            )


# -- files ---------------------------------------------------------------------------------------
def _source_name(source: Any) -> str:
    return str(source)


def _open_binary(source: Any) -> BinaryIO:
    """Open ``source`` for streaming reads: local paths directly, URLs through ObjectStoragePath."""
    import os

    if isinstance(source, (str, os.PathLike)) and "://" not in os.fspath(source):
        return open(os.fspath(source), "rb")  # noqa: SIM115 - closed by the caller
    if isinstance(source, str):
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        source = ObjectStoragePath(source)
    if not hasattr(source, "open"):
        raise ValueError(f"source must be a path, a URL or an ObjectStoragePath, got {type(source).__name__}")
    return source.open("rb")


def _file_records(stream: RecordStream, source: Any, email_column: str) -> Iterator[dict[str, Any]]:
    raw = _open_binary(source)
    try:
        binary: Any = raw
        if _source_name(source).lower().endswith(".gz"):
            import gzip

            binary = gzip.GzipFile(fileobj=raw, mode="rb")
        yield from _text_records(stream, _numbered_lines(binary, _source_name(source)), email_column, _source_name(source))
    finally:
        raw.close()


def _numbered_lines(binary: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` pairs; each line is decoded on its own so a bad byte names its line."""
    number = 0
    while True:
        try:
            data = binary.readline()
        except EOFError as err:  # a truncated gzip stream
            raise ValueError(f"{name}: the file ends early after line {number} ({err})") from None
        if not data:
            return
        number += 1
        try:
            line = data.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}: line {number} is not UTF-8 text ({err.reason})") from None
        yield number, line


def _text_records(
    stream: RecordStream, lines: Iterator[tuple[int, str]], email_column: str, name: str
) -> Iterator[dict[str, Any]]:
    for number, line in lines:
        if not line.strip():
            stream.reject(number)
            continue
        header = _parse_header(line, email_column, name)
        if header is None:  # the first line is an address: one address per line
            yield {"email": line.strip()}
            yield from _plain_records(stream, lines)
        else:
            yield from _csv_records(stream, lines, header, email_column, name, number)
        return


def _parse_header(line: str, email_column: str, name: str) -> tuple[str, list[str]] | None:
    """``(delimiter, column names)`` if ``line`` is a header naming ``email_column``; ``None`` if an address."""
    import csv

    wanted = email_column.strip().lower()
    for delimiter in _DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if len(cells) > 1 or delimiter == ",":
            names = [cell.strip() for cell in cells]
            if wanted in (n.lower() for n in names):
                return delimiter, names
    cells = next(csv.reader([line]), [])
    if len(cells) == 1 and "@" in cells[0] and not any(d in line for d in _DELIMITERS[1:]):
        return None
    raise ValueError(
        f"{name}: the header row has no {email_column!r} column (columns: {line.strip()[:200]!r}); "
        "set email_column= to the column holding the addresses, or give one address per line"
    )


def _plain_records(stream: RecordStream, lines: Iterator[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    for number, line in lines:
        address = line.strip()
        if not address:
            stream.reject(number)
            continue
        yield {"email": address}


def _csv_records(
    stream: RecordStream,
    lines: Iterator[tuple[int, str]],
    header: tuple[str, list[str]],
    email_column: str,
    name: str,
    header_line: int,
) -> Iterator[dict[str, Any]]:
    import csv

    delimiter, names = header
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise ValueError(f"{name}: the header names column {column!r} twice")
        seen.add(column)
    column = _match_column(names, email_column)
    if column is None:  # pragma: no cover - _parse_header only returns headers that have it
        raise ValueError(f"{name}: the header row has no {email_column!r} column")
    position = [header_line]  # the physical line the reader has reached (a record may span lines)

    def physical() -> Iterator[str]:
        for number, line in lines:
            position[0] = number
            yield line

    reader = csv.reader(physical(), delimiter=delimiter)
    width = len(names)
    for cells in reader:
        where = f"{name}: line {position[0]}"
        if not cells or all(not cell.strip() for cell in cells):
            stream.reject(position[0])
            continue
        if len(cells) > width:
            raise ValueError(f"{where} has {len(cells)} fields but the header has {width}")
        row: dict[str, Any] = dict(zip(names, cells))
        for missing in names[len(cells) :]:
            row[missing] = None
        yield _record(row, column, where)


# -- SQL -----------------------------------------------------------------------------------------
def _sql_records(stream: RecordStream, sql: str, sql_conn_id: str, email_column: str) -> Iterator[dict[str, Any]]:
    from contextlib import closing

    hook = _db_hook(sql_conn_id)
    conn = hook.get_conn()
    with closing(conn):
        cursor, server_side = _streaming_cursor(conn)
        try:
            cursor.execute(sql)
            names: list[str] | None = None
            column = email_column
            number = 0
            while True:
                rows = cursor.fetchmany(SQL_FETCH_SIZE)
                if not rows:
                    break
                if names is None:
                    names = [column[0] for column in cursor.description or ()]
                    column = _match_column(names, email_column)
                    if column is None:
                        raise ValueError(
                            f"the query on {sql_conn_id!r} returns no {email_column!r} column "
                            f"(columns: {', '.join(names)}); set email_column= or alias the column"
                        )
                for row in rows:
                    number += 1
                    values = dict(row) if isinstance(row, Mapping) else dict(zip(names, row))
                    if all(_is_blank(value) for value in values.values()):
                        stream.reject(number)
                        continue
                    yield _record(
                        values,
                        column,
                        f"row {number} of the query on {sql_conn_id!r}",
                        hint=f" (filter them out, e.g. WHERE {email_column} <> '')",
                    )
        finally:
            try:
                cursor.close()
            finally:
                if server_side:
                    # A server-side cursor lives in a transaction: end it (nothing was written).
                    try:
                        conn.rollback()
                    except Exception:  # the connection may already be gone; closing follows
                        pass


def _db_hook(sql_conn_id: str) -> DbApiHook:
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    hook = BaseHook.get_hook(sql_conn_id)
    if not isinstance(hook, DbApiHook):
        raise ValueError(
            f"connection {sql_conn_id!r} gives a {type(hook).__name__}, not a SQL (DbApiHook) connection"
        )
    return hook


def _streaming_cursor(conn: Any) -> tuple[Any, bool]:
    """
    A cursor that streams rows from the server where the driver can: a named (server-side)
    cursor for psycopg 3 / psycopg2, an unbuffered ``SSCursor`` for MySQLdb / PyMySQL, an
    unbuffered cursor for mysql-connector. Others get a plain cursor read with ``fetchmany``.
    Returns ``(cursor, server_side)``.
    """
    import uuid

    module = type(conn).__module__.split(".")[0]
    if module in ("psycopg", "psycopg2"):
        cursor = conn.cursor(name=f"emailverify_{uuid.uuid4().hex}")
        cursor.itersize = SQL_FETCH_SIZE
        return cursor, True
    if module == "MySQLdb":
        from MySQLdb.cursors import SSCursor

        return conn.cursor(SSCursor), True
    if module == "pymysql":
        from pymysql.cursors import SSCursor as PyMySQLSSCursor

        return conn.cursor(PyMySQLSSCursor), True
    if module == "mysql":  # mysql-connector-python: cursors are unbuffered unless asked otherwise
        return conn.cursor(buffered=False), True
    return conn.cursor(), False
