# Licensed under the Apache License, Version 2.0.
"""The SQL load strategy for MySQL and MariaDB (see :mod:`._sql_dialects` for the shared flow)."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.results import FLAG_COLUMNS
from airflow_provider_emailverify.transfers._sql_dialects import SqlDialect

if TYPE_CHECKING:
    from collections.abc import Mapping

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
        """
        if key and source in self.key_chars:
            return f"VARCHAR({self.key_chars[source]})"
        return super().column_type(source, key=key)

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
        """What a created key column of ``source`` takes of a key: a flag one byte, text four a character."""
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

    upsert = SqlDialect.upsert_by_statement

    def upsert_statement(self, plan: LoadPlan) -> str:
        updates = self.updated_columns(plan) or [plan.keys[0]]
        action = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in updates)
        table = self.table_ref(plan.schema, plan.table)
        # MySQLdb's executemany fills only the VALUES part and sends what follows it verbatim.
        return f"{self.insert_statement(table, plan)} ON DUPLICATE KEY UPDATE {action}"
