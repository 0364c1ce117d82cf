# Licensed under the Apache License, Version 2.0.
"""
How a result load talks to each database family, behind one small strategy interface.

:class:`SqlDialect` holds the flow every database shares (one transaction per load; append,
replace through a staging table, upsert) and the ANSI defaults. Subclasses change only what
differs: identifier quoting, column types, transaction control, the bulk path (``COPY`` on
PostgreSQL, batched ``executemany`` elsewhere) and the upsert statement. Any other database
upserts through a staging table and one SQL ``MERGE`` (Snowflake, Redshift, SQL Server, Oracle,
PostgreSQL 15+, ...). The MySQL/MariaDB dialect is in :mod:`._sql_mysql`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_emailverify.results import FLAG_COLUMNS
from airflow_provider_emailverify.transfers._common import batched
from airflow_provider_emailverify.transfers._pg_copy import ChunkReader, copy_text_chunks

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from logging import Logger

MODES = ("append", "replace", "upsert")


@dataclass
class LoadPlan:
    """
    What to load where.

    :param schema: schema (database, for MySQL) of the table, or ``None`` for the default one.
    :param table: table name, verbatim (quoted by the dialect).
    :param columns: table column names, in row order.
    :param sources: the result field behind each column (picks the column type on creation).
    :param mode: ``append``, ``replace`` or ``upsert``.
    :param keys: upsert key columns (table names).
    :param create_table: create the table when it does not exist.
    :param batch_size: rows per ``executemany`` call.
    """

    schema: str | None
    table: str
    columns: Sequence[str]
    sources: Sequence[str]
    mode: str = "append"
    keys: Sequence[str] = field(default_factory=tuple)
    create_table: bool = True
    batch_size: int = 10_000


class SqlDialect:
    """
    Any DB-API database: ANSI quoting and types, batched ``executemany``, upsert through a
    staging table and SQL ``MERGE``.
    """

    family: ClassVar[str] = "generic"
    quote_char: ClassVar[str] = '"'
    supports_upsert: ClassVar[bool] = True
    #: non-key text columns: room for any address and pass-through value (no portable unbounded type)
    text_type: ClassVar[str] = "VARCHAR(4000)"
    #: key columns, which the table's primary key indexes
    key_type: ClassVar[str] = "VARCHAR(320)"
    bool_type: ClassVar[str] = "BOOLEAN"
    temp_table_prefix: ClassVar[str] = "CREATE TEMPORARY TABLE"
    #: a staging column holding each row's position in the load, so that the last row of a key wins
    seq_column: ClassVar[str] = "__emailverify_seq"
    seq_type: ClassVar[str] = "INTEGER"

    def __init__(self, hook: Any, log: Logger) -> None:
        self.hook = hook
        self.log = log
        self.placeholder: str = getattr(hook, "placeholder", "%s") or "%s"

    # -- names and types ---------------------------------------------------------------------------
    def quote(self, name: str) -> str:
        """Quote one identifier (always, so names keep their exact spelling and case)."""
        if not name or "\x00" in name:
            raise ValueError(f"invalid SQL identifier {name!r}")
        q = self.quote_char
        return q + name.replace(q, q + q) + q

    def table_ref(self, schema: str | None, table: str) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)

    def column_list(self, columns: Iterable[str]) -> str:
        return ", ".join(self.quote(c) for c in columns)

    def column_type(self, source: str, *, key: bool) -> str:
        if source in FLAG_COLUMNS:
            return self.bool_type
        return self.key_type if key else self.text_type

    def column_defs(self, plan: LoadPlan, *, with_keys: bool) -> str:
        keys = set(plan.keys) if with_keys else set()
        return ", ".join(
            f"{self.quote(c)} {self.column_type(s, key=c in keys)}"
            for c, s in zip(plan.columns, plan.sources)
        )

    def staging_name(self) -> str:
        return f"ev_stage_{uuid.uuid4().hex[:12]}"

    # -- transaction -------------------------------------------------------------------------------
    def cursor(self, conn: Any) -> Any:
        """A cursor giving plain tuples, whatever cursor class the connection's extras chose."""
        return conn.cursor()

    def prepare(self, conn: Any) -> None:
        if getattr(self.hook, "supports_autocommit", False):
            self.hook.set_autocommit(conn, False)

    def begin(self, cursor: Any) -> None:
        """Open the load's transaction (drivers that begin implicitly need nothing)."""

    def commit(self, conn: Any, cursor: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any, cursor: Any) -> None:
        conn.rollback()

    # -- DDL -----------------------------------------------------------------------------------------
    def create_table(self, cursor: Any, plan: LoadPlan) -> bool:
        """Create the table if missing; True when this call created it (where DDL is not transactional)."""
        key = f", PRIMARY KEY ({self.column_list(plan.keys)})" if plan.mode == "upsert" and plan.keys else ""
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table_ref(plan.schema, plan.table)} "
            f"({self.column_defs(plan, with_keys=plan.mode == 'upsert')}{key}){self.table_options()}"
        )
        return False

    def table_options(self) -> str:
        return ""

    def drop_created_table(self, cursor: Any, plan: LoadPlan) -> None:
        """Undo a table creation that the rollback could not undo (non-transactional DDL)."""

    def check_table_name(self, cursor: Any, plan: LoadPlan) -> None:
        """
        Refuse a table name that no table has but one differing only in case does (where the
        database folds unquoted names): names are quoted, so the load would create a second table.
        """

    def create_staging(self, cursor: Any, plan: LoadPlan, *, with_seq: bool = False) -> str:
        """
        A temporary table with the plan's columns as the table types them (an integer id, an
        enum status...), so staged rows move into the table as they would load into it directly;
        with ``with_seq`` also :attr:`seq_column`.
        """
        name = self.quote(self.staging_name())
        seq = f", CAST(NULL AS {self.seq_type}) AS {self.quote(self.seq_column)}" if with_seq else ""
        cursor.execute(
            f"{self.temp_table_prefix} {name} AS SELECT {self.column_list(plan.columns)}{seq} "
            f"FROM {self.table_ref(plan.schema, plan.table)} WHERE 1 = 0"
        )
        return name

    def drop_staging(self, cursor: Any, staging: str) -> None:
        cursor.execute(f"DROP TABLE {staging}")

    def unique_keys(self, cursor: Any, plan: LoadPlan) -> list[set[str]] | None:
        """
        Column sets of the table's unique indexes and primary key (case-folded where names fold);
        ``None`` where the upsert needs none (``MERGE`` matches on the key columns themselves).
        """
        return None

    def check_unique_key(self, cursor: Any, plan: LoadPlan) -> None:
        wanted = {self.fold(k) for k in plan.keys}
        found = self.unique_keys(cursor, plan)
        if found is None or any(wanted == unique for unique in found):
            return
        raise ValueError(
            f"upsert needs a primary key or unique index on ({', '.join(plan.keys)}) of table "
            f"{self.table_ref(plan.schema, plan.table)}, which has none (or does not exist); "
            "add one, or let the operator create the table"
        )

    def fold(self, name: str) -> str:
        return name

    # -- the load --------------------------------------------------------------------------------------
    def load(self, conn: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """Load ``rows`` in one transaction: on any failure the table is left as it was."""
        if plan.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {plan.mode!r}")
        if plan.mode == "upsert" and not self.supports_upsert:
            raise ValueError(f"upsert is not supported on {self.family} databases; use append or replace")
        self.prepare(conn)
        cursor = self.cursor(conn)
        created = False
        try:
            self.begin(cursor)
            self.check_table_name(cursor, plan)
            if plan.create_table:
                created = self.create_table(cursor, plan)
            if plan.mode == "upsert":
                self.check_unique_key(cursor, plan)
            getattr(self, plan.mode)(cursor, plan, rows)
            self.commit(conn, cursor)
        except BaseException:
            self.log.warning("Load into %s failed; rolling back", self.table_ref(plan.schema, plan.table))
            try:
                self.rollback(conn, cursor)
                if created:
                    self.drop_created_table(cursor, plan)
            except Exception as err:
                self.log.warning("Rollback failed too: %s", err)
            raise
        finally:
            try:
                cursor.close()
            except Exception:
                pass

    def append(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        self.bulk_insert(cursor, self.table_ref(plan.schema, plan.table), plan, rows)

    def replace(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """
        Stage every row first, then swap the table's contents in the same transaction: the table
        itself (grants, indexes, views, columns we do not write) is kept, and its rows are
        touched only once the download is complete.
        """
        staging = self.create_staging(cursor, plan)
        self.bulk_insert(cursor, staging, plan, rows)
        target = self.table_ref(plan.schema, plan.table)
        columns = self.column_list(plan.columns)
        cursor.execute(f"DELETE FROM {target}")
        cursor.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging}")
        self.drop_staging(cursor, staging)

    def upsert(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """
        Stage the rows with their position, keep each key's last row, then one ``MERGE`` into the
        table: matching rows get the mapped columns (their other columns are kept), new keys are
        inserted. The table needs no unique key; every row matching a key is updated.
        """
        staging = self.create_staging(cursor, plan, with_seq=True)
        staged = replace(plan, columns=(*plan.columns, self.seq_column))
        self.bulk_insert(cursor, staging, staged, ((*row, seq) for seq, row in enumerate(rows)))
        seq = self.quote(self.seq_column)
        keys = self.column_list(plan.keys)
        cursor.execute(
            f"DELETE FROM {staging} WHERE {seq} NOT IN (SELECT MAX({seq}) FROM {staging} GROUP BY {keys})"
        )
        match = " AND ".join(f"t.{self.quote(k)} = s.{self.quote(k)}" for k in plan.keys)
        updates = ", ".join(f"{self.quote(c)} = s.{self.quote(c)}" for c in self.updated_columns(plan))
        values = ", ".join(f"s.{self.quote(c)}" for c in plan.columns)
        cursor.execute(
            f"MERGE INTO {self.table_ref(plan.schema, plan.table)} t USING {staging} s ON ({match}) "
            + (f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else "")
            + f"WHEN NOT MATCHED THEN INSERT ({self.column_list(plan.columns)}) VALUES ({values})"
        )
        self.drop_staging(cursor, staging)

    def upsert_by_statement(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """Batched ``executemany`` of the dialect's insert-or-update statement (:meth:`upsert_statement`)."""
        self.executemany(cursor, self.upsert_statement(plan), rows, plan.batch_size)

    def upsert_statement(self, plan: LoadPlan) -> str:
        raise NotImplementedError

    def updated_columns(self, plan: LoadPlan) -> list[str]:
        """The columns an upsert overwrites: every written column but the keys."""
        keys = {self.fold(k) for k in plan.keys}
        return [c for c in plan.columns if self.fold(c) not in keys]

    def with_params(self, sql: str) -> str:
        """
        SQL text for a statement run with parameters: drivers with ``%s`` placeholders read
        every ``%`` as one, so a ``%`` in a quoted name is doubled.
        """
        return sql.replace("%", "%%") if "%" in self.placeholder else sql

    def insert_statement(self, table: str, plan: LoadPlan) -> str:
        marks = ", ".join([self.placeholder] * len(plan.columns))
        return self.with_params(f"INSERT INTO {table} ({self.column_list(plan.columns)}) VALUES (") + marks + ")"

    def bulk_insert(self, cursor: Any, table: str, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        self.executemany(cursor, self.insert_statement(table, plan), rows, plan.batch_size)

    @staticmethod
    def executemany(cursor: Any, sql: str, rows: Iterable[tuple[Any, ...]], batch_size: int) -> None:
        for batch in batched(rows, batch_size):
            cursor.executemany(sql, batch)


class PostgresDialect(SqlDialect):
    """PostgreSQL: ``COPY ... FROM STDIN`` for every bulk path, upsert through a staging table."""

    family = "postgresql"
    supports_upsert = True
    text_type = "TEXT"
    key_type = "TEXT"

    def cursor(self, conn: Any) -> Any:
        if type(conn).__module__.startswith("psycopg2"):
            import psycopg2.extensions

            return conn.cursor(cursor_factory=psycopg2.extensions.cursor)
        from psycopg.rows import tuple_row

        return conn.cursor(row_factory=tuple_row)

    def prepare(self, conn: Any) -> None:
        """
        The load's connection speaks UTF-8, whatever ``client_encoding`` the Airflow connection
        asks for: ``COPY`` is sent as UTF-8 bytes, which the server would otherwise read in the
        session's encoding and store garbled. The connection is the load's own.

        :param conn: the load's connection (psycopg 3 or psycopg2).
        """
        super().prepare(conn)
        if hasattr(conn, "set_client_encoding"):  # psycopg2
            conn.set_client_encoding("UTF8")
        else:
            conn.execute("SET client_encoding TO 'UTF8'")
            conn.commit()

    def create_staging(self, cursor: Any, plan: LoadPlan, *, with_seq: bool = False) -> str:
        """The table's columns as it types them; :attr:`seq_column` is numbered by the server."""
        name = self.quote(self.staging_name())
        cursor.execute(
            f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {self.column_list(plan.columns)} "
            f"FROM {self.table_ref(plan.schema, plan.table)} WITH NO DATA"
        )
        if with_seq:
            cursor.execute(
                f"ALTER TABLE {name} ADD COLUMN {self.quote(self.seq_column)} BIGINT GENERATED ALWAYS AS IDENTITY"
            )
        return name

    def drop_staging(self, cursor: Any, staging: str) -> None:
        """Dropped on commit (``ON COMMIT DROP``)."""

    def check_table_name(self, cursor: Any, plan: LoadPlan) -> None:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE lower(c.relname) = lower(%s) AND c.relname <> %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND n.nspname = COALESCE(%s, current_schema()) AND to_regclass(%s) IS NULL",
            (plan.table, plan.table, plan.schema, self.table_ref(plan.schema, plan.table)),
        )
        found = sorted(row[0] for row in cursor.fetchall())
        if found:
            raise ValueError(
                f"table {self.table_ref(plan.schema, plan.table)} does not exist, but "
                f"{', '.join(self.quote(name) for name in found)} does: table names are taken verbatim "
                f"(quoted), so this load would create a second table; pass table={found[0]!r}"
            )

    def unique_keys(self, cursor: Any, plan: LoadPlan) -> list[set[str]]:
        cursor.execute(
            "SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) AS k(n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) "
            "FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL",
            (self.table_ref(plan.schema, plan.table),),
        )
        return [set(row[0]) for row in cursor.fetchall()]

    def upsert(self, cursor: Any, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        """
        ``COPY`` into a staging table, then one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``
        of the mapped columns. When an address comes more than once, its last row wins. Rows
        whose mapped columns already hold those values are left alone (no new row version, no
        update trigger), so a sync that changes few statuses writes few rows.
        """
        staging = self.create_staging(cursor, plan, with_seq=True)
        self.bulk_insert(cursor, staging, plan, rows)
        target = self.table_ref(plan.schema, plan.table)
        columns = self.column_list(plan.columns)
        keys = self.column_list(plan.keys)
        updates = self.updated_columns(plan)
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in updates)
            # compared as text: every type has a text form, not every type an equality (json)
            + f" WHERE ROW({', '.join(f't.{self.quote(c)}::text' for c in updates)}) IS DISTINCT FROM "
            + f"ROW({', '.join(f'EXCLUDED.{self.quote(c)}::text' for c in updates)})"
            if updates
            else "DO NOTHING"
        )
        cursor.execute(
            f"INSERT INTO {target} AS t ({columns}) "
            f"SELECT DISTINCT ON ({keys}) {columns} FROM {staging} "
            f"ORDER BY {keys}, {self.quote(self.seq_column)} DESC "
            f"ON CONFLICT ({keys}) {action}"
        )

    def bulk_insert(self, cursor: Any, table: str, plan: LoadPlan, rows: Iterator[tuple[Any, ...]]) -> None:
        sql = f"COPY {table} ({self.column_list(plan.columns)}) FROM STDIN"
        flags = {i for i, source in enumerate(plan.sources) if source in FLAG_COLUMNS}
        chunks = copy_text_chunks(rows, columns=plan.columns, flags=flags)
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(sql) as copy:
                for chunk in chunks:
                    copy.write(chunk)
        else:  # psycopg2
            reader = ChunkReader(chunks)
            try:
                cursor.copy_expert(sql, reader, size=256 * 1024)
            except Exception as err:
                # psycopg2 turns an error raised while reading into QueryCanceled: surface the cause.
                if reader.error is not None:
                    raise reader.error from err
                raise


class SqliteDialect(SqlDialect):
    """SQLite: explicit ``BEGIN`` (so DDL is inside the transaction too), ``ON CONFLICT`` upsert."""

    family = "sqlite"
    supports_upsert = True
    text_type = "TEXT"
    key_type = "TEXT"
    temp_table_prefix = "CREATE TEMP TABLE"

    def prepare(self, conn: Any) -> None:
        # Manage transactions ourselves: the sqlite3 module would otherwise commit around DDL.
        conn.isolation_level = None

    def begin(self, cursor: Any) -> None:
        cursor.execute("BEGIN")

    def commit(self, conn: Any, cursor: Any) -> None:
        cursor.execute("COMMIT")

    def rollback(self, conn: Any, cursor: Any) -> None:
        if getattr(conn, "in_transaction", True):
            cursor.execute("ROLLBACK")

    def create_staging(self, cursor: Any, plan: LoadPlan, *, with_seq: bool = False) -> str:
        return "temp." + super().create_staging(cursor, plan, with_seq=with_seq)

    def fold(self, name: str) -> str:
        return name.lower()

    def unique_keys(self, cursor: Any, plan: LoadPlan) -> list[set[str]]:
        prefix = f"{self.quote(plan.schema)}." if plan.schema else ""
        cursor.execute(f"PRAGMA {prefix}index_list({self.quote(plan.table)})")
        indexes = [row[1] for row in cursor.fetchall() if row[2] and not (len(row) > 4 and row[4])]
        found = []
        for index in indexes:
            cursor.execute(f"PRAGMA {prefix}index_info({self.quote(index)})")
            found.append({self.fold(row[2]) for row in cursor.fetchall() if row[2] is not None})
        # An INTEGER PRIMARY KEY is the rowid itself: no index lists it.
        cursor.execute(f"PRAGMA {prefix}table_info({self.quote(plan.table)})")
        primary = {self.fold(row[1]) for row in cursor.fetchall() if row[5]}
        if primary:
            found.append(primary)
        return found

    upsert = SqlDialect.upsert_by_statement

    def upsert_statement(self, plan: LoadPlan) -> str:
        """
        ``INSERT ... ON CONFLICT DO UPDATE`` of the mapped columns, leaving alone rows that
        already hold those values (no update trigger fires for them).

        :param plan: the load.
        """
        updates = self.updated_columns(plan)
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in updates)
            + " WHERE "
            + " OR ".join(f"{self.quote(c)} IS NOT excluded.{self.quote(c)}" for c in updates)
            if updates
            else "DO NOTHING"
        )
        table = self.table_ref(plan.schema, plan.table)
        conflict = f" ON CONFLICT ({self.column_list(plan.keys)}) {action}"
        return self.insert_statement(table, plan) + self.with_params(conflict)


_FAMILIES: dict[str, type[SqlDialect]] = {
    "postgres": PostgresDialect,
    "postgresql": PostgresDialect,
    "sqlite": SqliteDialect,
}
#: families whose dialect lives in ``_sql_mysql`` (imported when used, as it imports this module)
_MYSQL_FAMILIES = ("mysql", "mariadb")


def dialect_for(hook: Any, log: Logger) -> SqlDialect:
    """The strategy for a ``DbApiHook``: by connection type, else by its SQLAlchemy dialect name."""
    names = [getattr(hook, "conn_type", None)]
    try:
        names.append(hook.dialect_name)
    except Exception:  # a hook without a usable URI: fall back to the generic dialect
        pass
    for name in names:
        family = str(name).lower() if name else ""
        if family in _MYSQL_FAMILIES:
            from airflow_provider_emailverify.transfers._sql_mysql import MySqlDialect

            return MySqlDialect(hook, log)
        if family in _FAMILIES:
            return _FAMILIES[family](hook, log)
    return SqlDialect(hook, log)
