# Licensed under the Apache License, Version 2.0.
"""Stream the results of verification jobs into a table on any Airflow SQL connection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_emailverify.transfers._common import (
    ResultColumns,
    gc_for_bulk_load,
    iter_job_results,
    select_results,
    status_counts,
    validate_statuses,
)
from airflow_provider_emailverify.transfers._sql_dialects import MODES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.providers.common.compat.sdk import Context
    from airflow.providers.common.sql.hooks.sql import DbApiHook


class EmailVerificationResultsToSqlOperator(BaseOperator):
    """
    Stream the neutral result rows of one or more verification jobs into a SQL table.

    Works on any Airflow SQL connection (a ``DbApiHook``). Rows stream from the vendor's
    download into the database: PostgreSQL through ``COPY ... FROM STDIN``, every other
    database through batched ``executemany``; no list of all rows is ever built. Each load is
    one transaction, so a failure part-way (download or database) leaves the table exactly as
    it was.

    Modes:

    - ``append``: insert the rows.
    - ``replace``: load every row into a temporary staging table, then, in the same
      transaction, replace the table's rows with the staged ones. The table itself (grants,
      indexes, views, columns not written) is kept.
    - ``upsert``: insert new addresses and update existing ones, matching on ``key_columns``.
      Only the written (mapped) columns are updated; other columns of the table keep their
      values, so a sync can refresh the status columns of an existing contacts table. On
      PostgreSQL, MySQL/MariaDB and SQLite the table needs a primary key or unique index on the
      key columns (created with one when missing). PostgreSQL: ``COPY`` into staging, then
      ``INSERT ... ON CONFLICT``; SQLite: ``INSERT ... ON CONFLICT DO UPDATE``; MySQL/MariaDB:
      ``INSERT ... ON DUPLICATE KEY UPDATE``; any other database (Snowflake, Redshift, SQL
      Server, Oracle, ...): batched inserts into a temporary staging table, then one SQL
      ``MERGE``, which needs no unique key and updates every row matching a key. When the same
      key comes more than once, the last row wins.

    Identifiers are always quoted for the target database, so table and column names are
    taken verbatim (exact case, any characters). On PostgreSQL, a table name that no table has
    but one differing only in case does (an unquoted ``CREATE TABLE contacts`` is stored lower
    case) is refused rather than created as a second table.

    :param conn_id: the email verification connection (its type picks the vendor).
    :param job_ids: the job id(s) whose results to load: a list, or a JSON/Python string of one,
        e.g. ``{{ ti.xcom_pull(task_ids='verify')['job_ids'] }}``. An empty list (what the
        verification operator reports when its input held no address) loads no row, as any mode
        does with a job of no rows: ``append`` and ``upsert`` change nothing (the table is still
        created when missing and ``create_table`` is on), ``replace`` leaves the table empty.
        ``None`` or blank text is an error. (templated)
    :param sql_conn_id: the Airflow SQL connection of the target database. (templated)
    :param table: the table; ``schema.table`` is split at the first dot unless ``schema`` is
        given (pass ``schema`` to use a table name containing a dot). (templated)
    :param schema: the table's schema (database, on MySQL). (templated)
    :param mode: ``append``, ``replace`` or ``upsert``.
    :param key_columns: the upsert key, as neutral names or table column names.
    :param column_map: ``{neutral column: table column}``; only mapped columns are written. A
        source not in the neutral model is read from the submitted record's pass-through fields.
        ``None`` writes every neutral column under its own name.
    :param statuses: neutral statuses to keep: a list, or text read as ``job_ids`` is (a JSON or
        Python list, as a template renders one, or comma-separated statuses); ``None`` keeps
        every row. (templated)
    :param create_table: create the table (with suitable column types) when it does not exist;
        existing tables are used as they are. Text columns are ``TEXT`` on PostgreSQL and
        SQLite, ``LONGTEXT`` on MySQL/MariaDB and ``VARCHAR(4000)`` elsewhere (key columns
        ``VARCHAR(320)``). On MySQL/MariaDB the upsert key columns are ``VARCHAR`` sized by what
        they hold, in characters: ``email`` 320, ``suggestion`` 254, ``job_id`` 64,
        ``vendor_status``, ``reason`` and ``vendor`` 32, ``status`` 16, a pass-through column
        255. A key of any neutral columns thus fits InnoDB's 3,072 bytes (``utf8mb4``); a key
        that cannot (several pass-through columns) is refused before anything is loaded.
        MySQL/MariaDB loads run in strict SQL mode (``STRICT_TRANS_TABLES`` is added to the
        session's mode), so the server refuses what it would otherwise change with a warning: a
        value longer than its column fails the load with an error naming its row and column
        instead of being cut to fit, and so do a value a typed column cannot hold and a
        character the column's character set lacks. On InnoDB tables nothing is then loaded.
    :param batch_size: rows per ``executemany`` call (databases other than PostgreSQL).
    :param sql_hook_params: extra arguments for the SQL hook's constructor.
    :return: ``{"table", "mode", "rows", "counts": {status: rows}}``.
    """

    template_fields: Sequence[str] = ("conn_id", "job_ids", "sql_conn_id", "table", "schema", "statuses")
    template_fields_renderers = {"job_ids": "py"}
    ui_color = "#e4eef7"

    def __init__(
        self,
        *,
        conn_id: str,
        job_ids: str | Sequence[str],
        sql_conn_id: str,
        table: str,
        schema: str | None = None,
        mode: Literal["append", "replace", "upsert"] = "append",
        key_columns: Sequence[str] = ("email",),
        column_map: Mapping[str, str] | Sequence[str] | None = None,
        statuses: str | Sequence[str] | None = None,
        create_table: bool = True,
        batch_size: int = 10_000,
        sql_hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if isinstance(key_columns, str):
            key_columns = (key_columns,)
        if mode == "upsert" and not key_columns:
            raise ValueError("upsert needs at least one key column")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        # Fail at parse time on a bad column map rather than at run time.
        columns = ResultColumns(column_map)
        if mode == "upsert":
            for key in key_columns:
                columns.target_of(key)
        self.conn_id = conn_id
        self.job_ids = job_ids
        self.sql_conn_id = sql_conn_id
        self.table = table
        self.schema = schema
        self.mode = mode
        self.key_columns = tuple(key_columns)
        self.column_map = column_map
        self.statuses = statuses
        self.create_table = create_table
        self.batch_size = batch_size
        self.sql_hook_params = sql_hook_params or {}

    def get_db_hook(self) -> DbApiHook:
        from airflow.providers.common.compat.sdk import BaseHook
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        hook = BaseHook.get_connection(self.sql_conn_id).get_hook(hook_params=self.sql_hook_params)
        if not isinstance(hook, DbApiHook):
            raise TypeError(
                f"connection {self.sql_conn_id!r} gives a {type(hook).__name__}, not a SQL (DbApiHook) hook"
            )
        return hook

    def _schema_and_table(self) -> tuple[str | None, str]:
        if not self.table:
            raise ValueError("table is empty")
        if self.schema or "." not in self.table:
            return self.schema or None, self.table
        schema, _, table = self.table.partition(".")
        return schema, table

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_emailverify._utils import parse_job_ids
        from airflow_provider_emailverify.transfers._sql_dialects import LoadPlan, dialect_for

        job_ids = parse_job_ids(self.job_ids, allow_empty=True)
        wanted = validate_statuses(self.statuses)
        columns = ResultColumns(self.column_map)
        schema, table = self._schema_and_table()
        keys = tuple(columns.target_of(k) for k in self.key_columns) if self.mode == "upsert" else ()
        plan = LoadPlan(
            schema=schema,
            table=table,
            columns=columns.targets,
            sources=columns.sources,
            mode=self.mode,
            keys=keys,
            create_table=self.create_table,
            batch_size=self.batch_size,
        )

        hook = self.get_db_hook()
        dialect = dialect_for(hook, self.log)
        target = dialect.table_ref(schema, table)
        if not job_ids:
            self.log.info("No verification jobs (job_ids is an empty list): loading no row into %s", target)
            if self.mode == "replace":
                self.log.warning(
                    "job_ids is empty and mode is replace: every row of %s is deleted, as replace leaves "
                    "the table holding exactly the results of the given jobs (none)",
                    target,
                )
        self.log.info(
            "Loading results of %d job(s) into %s (%s, %s mode)%s",
            len(job_ids),
            target,
            dialect.family,
            self.mode,
            f", statuses {sorted(wanted)}" if wanted else "",
        )

        counts: Counter[str] = Counter()
        results = select_results(iter_job_results(self.conn_id, job_ids, log=self.log), wanted, counts)
        rows = map(columns.row_getter(), results)
        conn = hook.get_conn()
        try:
            with gc_for_bulk_load():
                dialect.load(conn, plan, rows)
        finally:
            conn.close()

        written = status_counts(counts)
        total = sum(written.values())
        self.log.info(
            "Loaded %d rows into %s: %s; %d row(s) left out by the status filter",
            total,
            target,
            written,
            counts.get("skipped", 0),
        )
        return {"table": target, "mode": self.mode, "rows": total, "counts": written}
