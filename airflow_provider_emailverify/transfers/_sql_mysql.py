# Licensed under the Apache License, Version 2.0.
"""The SQL load strategy for MySQL and MariaDB (see :mod:`._sql_dialects` for the shared flow)."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.results import FLAG_COLUMNS
from airflow_provider_emailverify.transfers._common import batched
from airflow_provider_emailverify.transfers._sql_dialects import SqlDialect

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from airflow_provider_emailverify.transfers._sql_dialects import LoadPlan

#: Characters of a neutral text column that is a key column of a created table, by what it holds.
#: Together they take 750 characters (3,000 bytes in utf8mb4) and the five flags one byte each,
#: so a key of any neutral columns, even all of them, fits in InnoDB's 3,072 bytes.
KEY_CHARS: Mapping[str, int] = MappingProxyType(
    {
        "email": 320,  # an address as submitted: the documented upper bound (64 + "@" + 255)
        "suggestion": 254,  # a vendor's corrected address: SMTP's path limit
        "job_id": 64,  # vendor job ids: a number, a hex or UUID token
        "vendor_status": 32,  # a vendor's verdict word ("catchall", "accept_all")
        "reason": 32,  # a vendor's reason code ("low_deliverability")
        "vendor": 32,  # vendor keys ("neverbounce_v3")
        "status": 16,  # a neutral status ("undeliverable")
    }
)
#: Characters of a pass-through key column (a CRM id, a list name, ...).
PASS_THROUGH_KEY_CHARS = 255

#: The server's error for a value longer than its column (``ER_DATA_TOO_LONG``), and its text.
_DATA_TOO_LONG = 1406
_DATA_TOO_LONG_RE = re.compile(r"Data too long for column '(.*)' at row \d+", re.DOTALL)
#: Characters of a value quoted in an error.
_PREVIEW_CHARS = 40


class MySqlDialect(SqlDialect):
    """
    MySQL and MariaDB: backtick quoting, ``utf8mb4`` tables with binary collation (addresses
    compare exactly), ``ON DUPLICATE KEY UPDATE`` upsert. ``CREATE TABLE`` commits implicitly
    there, so a table this load created is dropped again if the load fails.
    """

    family = "mysql"
    quote_char = "`"
    supports_upsert = True
    text_type = "LONGTEXT"  # TEXT holds only 64 KB
    key_type = f"VARCHAR({PASS_THROUGH_KEY_CHARS})"
    #: characters of the key columns of a created table, by source (:data:`KEY_CHARS`)
    key_chars: ClassVar[Mapping[str, int]] = KEY_CHARS
    #: InnoDB's limit on the length of one key (row formats DYNAMIC and COMPRESSED, the defaults
    #: since MySQL 5.7 and MariaDB 10.2)
    max_key_bytes: ClassVar[int] = 3072

    def cursor(self, conn: Any) -> Any:
        if type(conn).__module__.startswith("MySQLdb"):
            import MySQLdb.cursors

            return conn.cursor(MySQLdb.cursors.Cursor)
        return conn.cursor()

    def column_type(self, source: str, *, key: bool) -> str:
        """
        Key columns are ``VARCHAR`` sized by what they hold (:data:`KEY_CHARS`; pass-through
        values :data:`PASS_THROUGH_KEY_CHARS`), so that a key of several columns fits InnoDB's
        limit on a key's length; other text is ``LONGTEXT``.

        :param source: the result field the column holds.
        :param key: whether the column is one of the table's key columns.
        """
        if key and source in self.key_chars:
            return f"VARCHAR({self.key_chars[source]})"
        return super().column_type(source, key=key)

    def begin(self, cursor: Any) -> None:
        """
        Make the load's session strict (``STRICT_TRANS_TABLES``) where the server's SQL mode is
        not: a value longer than its column is then refused, never cut to fit, which on a key
        column would merge rows of different keys into one. The connection is the load's own.

        :param cursor: a cursor of the load's connection.
        """
        cursor.execute("SELECT @@SESSION.sql_mode")
        mode = cursor.fetchone()[0]
        modes = [m for m in (mode.decode() if isinstance(mode, bytes) else mode or "").split(",") if m]
        if "STRICT_TRANS_TABLES" not in modes and "STRICT_ALL_TABLES" not in modes:
            self.log.info("Loading with STRICT_TRANS_TABLES added to the session's SQL mode %r", ",".join(modes))
            cursor.execute("SET SESSION sql_mode = %s", (",".join([*modes, "STRICT_TRANS_TABLES"]),))

    def table_options(self) -> str:
        return " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    def fold(self, name: str) -> str:
        return name.lower()

    def _schema_arg(self, plan: LoadPlan) -> tuple[str | None, str]:
        return plan.schema, plan.table

    def table_exists(self, cursor: Any, plan: LoadPlan) -> bool:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
            self._schema_arg(plan),
        )
        return bool(cursor.fetchone()[0])

    def create_table(self, cursor: Any, plan: LoadPlan) -> bool:
        if self.table_exists(cursor, plan):
            return False
        if plan.mode == "upsert":
            self.check_key_length(plan)
        super().create_table(cursor, plan)
        return True

    def key_bytes(self, source: str) -> int:
        """
        What a created key column of ``source`` takes of a key: a flag one byte, text four a character.

        :param source: the result field the column holds.
        """
        if source in FLAG_COLUMNS:
            return 1
        return 4 * self.key_chars.get(source, PASS_THROUGH_KEY_CHARS)

    def check_key_length(self, plan: LoadPlan) -> None:
        """
        Refuse, before anything is loaded, an upsert key that the created table could not have:
        one longer than :attr:`max_key_bytes` (several pass-through columns, each 255 characters).

        :param plan: the load, whose ``keys`` would make the created table's primary key.
        :raises ValueError: naming the key columns, their types and sizes, and the limit.
        """
        sources = dict(zip(plan.columns, plan.sources))
        sizes = {key: self.key_bytes(sources.get(key, key)) for key in plan.keys}
        total = sum(sizes.values())
        if total <= self.max_key_bytes:
            return
        columns = ", ".join(
            f"{self.quote(key)} {self.column_type(sources.get(key, key), key=True)}: {size:,} bytes"
            for key, size in sizes.items()
        )
        raise ValueError(
            f"cannot create table {self.table_ref(plan.schema, plan.table)} with the upsert key "
            f"({self.column_list(plan.keys)}): its columns take {total:,} bytes ({columns}; utf8mb4 "
            f"text takes 4 bytes a character), over the {self.max_key_bytes:,} bytes MySQL/MariaDB "
            "(InnoDB) allow one key. Use fewer key columns, or create the table yourself with a key "
            "that fits; nothing was loaded"
        )

    def drop_created_table(self, cursor: Any, plan: LoadPlan) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {self.table_ref(plan.schema, plan.table)}")

    def drop_staging(self, cursor: Any, staging: str) -> None:
        cursor.execute(f"DROP TEMPORARY TABLE {staging}")

    def unique_keys(self, cursor: Any, plan: LoadPlan) -> list[set[str]]:
        cursor.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND NON_UNIQUE = 0",
            self._schema_arg(plan),
        )
        indexes: dict[str, set[str]] = {}
        for index, column in cursor.fetchall():
            indexes.setdefault(index, set()).add(self.fold(column))
        return list(indexes.values())

    def bulk_insert(self, cursor: Any, table: str, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        self.insert_batches(cursor, self.insert_statement(table, plan), plan, rows)

    def upsert(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """Batched ``executemany`` of ``INSERT ... ON DUPLICATE KEY UPDATE`` (:meth:`upsert_statement`)."""
        self.insert_batches(cursor, self.upsert_statement(plan), plan, rows)

    def insert_batches(self, cursor: Any, sql: str, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """
        Batched ``executemany`` of ``sql``. A value too long for its column fails the load with
        an error naming its row in the load and its column (the server counts rows per statement).

        :param cursor: a cursor of the load's connection.
        :param sql: an insert statement taking one row of ``plan.columns``.
        :param plan: the load.
        :param rows: the rows.
        """
        done = 0
        for batch in batched(rows, plan.batch_size):
            try:
                cursor.executemany(sql, batch)
            except Exception as err:
                error = self.too_long_error(cursor, err, plan, batch, done)
                if error is None:
                    raise
                raise error from err
            done += len(batch)

    def too_long_error(
        self, cursor: Any, err: Exception, plan: LoadPlan, batch: Sequence[tuple[Any, ...]], done: int
    ) -> ValueError | None:
        """
        The error naming the row and column of a value too long for its column, when ``err`` is
        the server's "Data too long" (else ``None``).

        :param cursor: a cursor of the load's connection.
        :param err: what ``executemany`` raised.
        :param plan: the load.
        :param batch: the rows of the failed call.
        :param done: rows loaded before ``batch``.
        """
        args = getattr(err, "args", ())
        found = _DATA_TOO_LONG_RE.search(str(args[1])) if len(args) > 1 and args[0] == _DATA_TOO_LONG else None
        folded = [self.fold(c) for c in plan.columns]
        if found is None or self.fold(found.group(1)) not in folded:
            return None
        position = folded.index(self.fold(found.group(1)))
        column = plan.columns[position]
        try:
            column_type, chars, octets = self.column_size(cursor, plan, column)
        except Exception as failure:  # the server's own error is then the clearest
            self.log.warning("Could not read the type of column %s: %s", self.quote(column), failure)
            return None
        # The row's address, to find it by, unless the too-long value is the address itself.
        email_at = plan.sources.index("email") if "email" in plan.sources else position
        email_at = None if email_at == position else email_at
        for number, row in enumerate(batch, start=done + 1):
            value = row[position]
            text = value if isinstance(value, str) else "" if value is None else str(value)
            if chars is not None and len(text) > chars:
                size = f"{len(text):,} characters"
            elif chars is None and octets is not None and len(text.encode("utf-8")) > octets:
                # bytes only where the column has no length in characters: in a latin1 column an
                # "é" takes one byte, not UTF-8's two
                size = f"{len(text.encode('utf-8')):,} bytes"
            else:
                continue
            email = None if email_at is None else row[email_at]
            of = f" (address {_preview(email)})" if isinstance(email, str) else ""
            return ValueError(
                f"row {number:,} of the load{of} has {size} in column {self.quote(column)}, more than its "
                f"type {column_type} holds: {_preview(text)}. MySQL/MariaDB would have to cut it; "
                "nothing was loaded"
            )
        return ValueError(
            f"a value in rows {done + 1:,} to {done + len(batch):,} of the load is too long for column "
            f"{self.quote(column)} ({column_type}); nothing was loaded"
        )

    def column_size(self, cursor: Any, plan: LoadPlan, column: str) -> tuple[str, int | None, int | None]:
        """
        The type of a column of the plan's table and what it holds, in characters and bytes
        (``None`` where unknown). A staging table has the same columns.

        :param cursor: a cursor of the load's connection.
        :param plan: the load, naming the table.
        :param column: the column's name.
        """
        cursor.execute(
            "SELECT COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (*self._schema_arg(plan), column),
        )
        found = cursor.fetchone()
        if found is None:
            return "unknown type", None, None
        column_type, chars, octets = found
        if isinstance(column_type, bytes):
            column_type = column_type.decode()
        return str(column_type), None if chars is None else int(chars), None if octets is None else int(octets)

    def upsert_statement(self, plan: LoadPlan) -> str:
        updates = self.updated_columns(plan) or [plan.keys[0]]
        action = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in updates)
        table = self.table_ref(plan.schema, plan.table)
        # MySQLdb's executemany fills only the VALUES part and sends what follows it verbatim.
        return f"{self.insert_statement(table, plan)} ON DUPLICATE KEY UPDATE {action}"


def _preview(text: str) -> str:
    """``text`` quoted for an error, its first :data:`_PREVIEW_CHARS` characters when longer."""
    return repr(text) if len(text) <= _PREVIEW_CHARS else repr(text[:_PREVIEW_CHARS]) + "..."
