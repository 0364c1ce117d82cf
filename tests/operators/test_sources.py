# Licensed under the Apache License, Version 2.0.
"""Record sources: lists, files (local, gzip, S3 through moto), SQL (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import gzip
import json
import sqlite3
import tracemalloc
import uuid
from typing import TYPE_CHECKING

import pytest

from airflow_provider_emailverify.sources import RecordStream, batched, iter_records

if TYPE_CHECKING:
    from pathlib import Path


def write(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# -- choosing the input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"emails": ["a@b.c"], "source": "x.csv"},
        {"emails": ["a@b.c"], "sql": "select 1", "sql_conn_id": "x"},
    ],
)
def test_exactly_one_input(kwargs):
    with pytest.raises(ValueError, match="exactly one of emails=, source= or sql="):
        iter_records(**kwargs)


def test_sql_needs_connection_and_connection_needs_sql():
    with pytest.raises(ValueError, match="sql_conn_id"):
        iter_records(sql="select email from t")
    with pytest.raises(ValueError, match="only used with sql="):
        iter_records(emails=["a@b.c"], sql_conn_id="db")


# -- lists -----------------------------------------------------------------------------------------
def test_list_of_strings_counts_blanks():
    stream = iter_records(emails=["a@example.com", "", "  ", " b@example.com "])
    assert isinstance(stream, RecordStream)
    assert list(stream) == [{"email": "a@example.com"}, {"email": "b@example.com"}]
    assert (stream.read, stream.rejected, stream.rejected_rows) == (2, 2, [2, 3])
    assert "skipped 2 blank" in stream.summary()


def test_list_of_dicts_passes_extra_fields_through():
    stream = iter_records(
        emails=[{"email": "a@example.com", "crm_id": 7, "tags": ["x"]}, {"email": "b@example.com"}, {}]
    )
    assert list(stream) == [
        {"email": "a@example.com", "crm_id": 7, "tags": ["x"]},
        {"email": "b@example.com"},
    ]
    assert stream.rejected == 1


def test_list_is_consumed_lazily():
    produced = []

    def gen():
        for i in range(3):
            produced.append(i)
            yield f"u{i}@example.com"

    stream = iter_records(emails=gen())
    assert produced == []
    assert next(stream) == {"email": "u0@example.com"}
    assert produced == [0]


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        (["a@example.com", {"name": "no address"}], r"emails\[1\] has no 'email' field"),
        (["a@example.com", {"email": "", "name": "x"}], r"emails\[1\] has no address in 'email'"),
        (["a@example.com", {"email": 42}], r"emails\[1\]: 'email' is a int"),
        (["a@example.com", None], r"emails\[1\] is a NoneType"),
        (["a@example.com", 5], r"emails\[1\] is a int"),
    ],
)
def test_list_bad_records_name_the_item(emails, message):
    stream = iter_records(emails=emails)
    assert next(stream) == {"email": "a@example.com"}
    with pytest.raises(ValueError, match=message):
        next(stream)


def test_list_rejects_a_single_string():
    with pytest.raises(ValueError, match="list of addresses"):
        iter_records(emails="a@example.com")
    with pytest.raises(ValueError, match="neither JSON nor a Python literal"):
        iter_records(emails="[a@example.com]")


@pytest.mark.parametrize(
    "rendered",
    ['["a@example.com", {"email": "b@example.com", "id": 2}]', "['a@example.com', {'email': 'b@example.com', 'id': 2}]"],
)
def test_list_from_rendered_template_text(rendered):
    assert list(iter_records(emails=rendered)) == [{"email": "a@example.com"}, {"email": "b@example.com", "id": 2}]


# -- files -----------------------------------------------------------------------------------------
def test_csv_with_header_passes_columns_through(tmp_path):
    path = write(tmp_path / "list.csv", 'email,name,crm_id\na@example.com,Ann,1\n"b@example.com","Doe, Bob",2\n')
    assert list(iter_records(source=path)) == [
        {"email": "a@example.com", "name": "Ann", "crm_id": "1"},
        {"email": "b@example.com", "name": "Doe, Bob", "crm_id": "2"},
    ]


def test_csv_email_column_picks_the_address(tmp_path):
    path = write(tmp_path / "list.csv", "id;Work Email;note\n1;a@example.com;x\n2;b@example.com;\n")
    records = list(iter_records(source=str(path), email_column="work email"))
    assert records == [
        {"email": "a@example.com", "id": "1", "note": "x"},
        {"email": "b@example.com", "id": "2", "note": ""},
    ]


def test_csv_with_bom_and_crlf(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes("\ufeffEmail,name\r\na@example.com,Ann\r\n".encode())
    assert list(iter_records(source=path)) == [{"email": "a@example.com", "name": "Ann"}]


def test_one_address_per_line_with_blank_lines_counted(tmp_path):
    path = write(tmp_path / "list.txt", "\na@example.com\n\n  b@example.com  \nc@example.com")
    stream = iter_records(source=path)
    assert [r["email"] for r in stream] == ["a@example.com", "b@example.com", "c@example.com"]
    assert (stream.read, stream.rejected, stream.rejected_rows) == (3, 2, [1, 3])


def test_gzip_by_suffix(tmp_path):
    path = write(tmp_path / "list.csv.gz", "email,src\na@example.com,x\n\n,\nb@example.com,y\n", gz=True)
    stream = iter_records(source=path)
    assert list(stream) == [{"email": "a@example.com", "src": "x"}, {"email": "b@example.com", "src": "y"}]
    assert stream.rejected == 2
    plain = write(tmp_path / "list.txt.gz", "a@example.com\nb@example.com\n", gz=True)
    assert len(list(iter_records(source=plain))) == 2


def test_missing_email_column_header(tmp_path):
    path = write(tmp_path / "list.csv", "id,address\n1,a@example.com\n")
    with pytest.raises(ValueError, match=r"header row has no 'email' column.*email_column="):
        list(iter_records(source=path))
    single = write(tmp_path / "single.csv", "address\na@example.com\n")
    with pytest.raises(ValueError, match="header row has no 'email' column"):
        list(iter_records(source=single))


def test_csv_bad_rows_name_the_line(tmp_path):
    path = write(tmp_path / "list.csv", "email,name\na@example.com,Ann\n\n,Bob\n")
    stream = iter_records(source=path)
    assert next(stream)["email"] == "a@example.com"
    with pytest.raises(ValueError, match=r"list.csv: line 4 has no address in 'email'"):
        next(stream)
    wide = write(tmp_path / "wide.csv", "email,name\na@example.com,Ann,extra\n")
    with pytest.raises(ValueError, match="line 2 has 3 fields but the header has 2"):
        list(iter_records(source=wide))
    twice = write(tmp_path / "twice.csv", "email,name,name\n")
    with pytest.raises(ValueError, match="column 'name' twice"):
        list(iter_records(source=twice))
    clash = write(tmp_path / "clash.csv", "work,email\na@example.com,b@example.com\n")
    with pytest.raises(ValueError, match="rename one of them"):
        list(iter_records(source=clash, email_column="work"))


def test_short_rows_keep_their_columns(tmp_path):
    path = write(tmp_path / "list.csv", "email,name,crm_id\na@example.com,Ann\n")
    assert list(iter_records(source=path)) == [{"email": "a@example.com", "name": "Ann", "crm_id": None}]


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"a@example.com\nb\xff\xfe@example.com\n")
    with pytest.raises(ValueError, match="line 2 is not UTF-8"):
        list(iter_records(source=path))


def test_large_file_streams_in_constant_memory(tmp_path):
    """100,000 addresses (~2.5 MB, gzipped) are read without holding the file or the rows."""
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("email,n\n")
        for i in range(100_000):
            out.write(f"user{i}@example.com,{i}\n")
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_records(source=path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < 1024 * 1024, f"peak {peak} bytes: the file is not streamed"


# -- object storage (moto's S3 server) ---------------------------------------------------------------
def test_s3_source_through_object_storage(aws_conn_id, moto_s3_url):
    import boto3

    bucket = f"lists-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3", endpoint_url=moto_s3_url, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/list.csv", Body=b"email,crm_id\na@example.com,1\n\nb@example.com,2\n")
    s3.put_object(
        Bucket=bucket, Key="in/plain.txt.gz", Body=gzip.compress(b"c@example.com\nd@example.com\n")
    )

    stream = iter_records(source=f"s3://{aws_conn_id}@{bucket}/in/list.csv")
    assert list(stream) == [{"email": "a@example.com", "crm_id": "1"}, {"email": "b@example.com", "crm_id": "2"}]
    assert stream.rejected == 1

    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(f"s3://{bucket}/in/plain.txt.gz", conn_id=aws_conn_id)
    assert [r["email"] for r in iter_records(source=path)] == ["c@example.com", "d@example.com"]


# -- SQL -------------------------------------------------------------------------------------------
def test_sql_from_sqlite(tmp_path, monkeypatch):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table contacts (id integer, email text, name text)")
        conn.executemany(
            "insert into contacts values (?, ?, ?)",
            [(i, f"user{i}@example.com", f"n{i}") for i in range(12_345)] + [(None, None, None)],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_SQLITE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    stream = iter_records(sql="select id, email, name from contacts order by id", sql_conn_id="crm_sqlite")
    records = list(stream)
    assert len(records) == 12_345
    assert records[-1] == {"email": "user12344@example.com", "id": 12344, "name": "n12344"}
    assert (stream.read, stream.rejected) == (12_345, 1)


def test_sql_bad_rows_name_the_row(tmp_path, monkeypatch):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table contacts (id integer, email text, addr integer)")
        conn.executemany("insert into contacts values (?, ?, ?)", [(1, "a@example.com", 1), (2, None, 2)])
    monkeypatch.setenv("AIRFLOW_CONN_CRM_SQLITE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    stream = iter_records(sql="select * from contacts order by id", sql_conn_id="crm_sqlite")
    assert next(stream)["email"] == "a@example.com"
    with pytest.raises(ValueError, match=r"row 2 of the query on 'crm_sqlite' has no address in 'email'"):
        next(stream)
    with pytest.raises(ValueError, match=r"row 1 .*'addr' is a int"):
        list(iter_records(sql="select * from contacts", sql_conn_id="crm_sqlite", email_column="addr"))
    with pytest.raises(ValueError, match="returns no 'mail' column"):
        list(iter_records(sql="select * from contacts", sql_conn_id="crm_sqlite", email_column="mail"))


def test_sql_connection_must_be_sql(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", '{"conn_type": "aws"}')
    with pytest.raises(ValueError, match="not a SQL"):
        list(iter_records(sql="select 1", sql_conn_id="not_sql"))


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_sql_from_postgres_uses_a_server_side_cursor(postgres_conn_id, driver, monkeypatch):
    """Rows come through a named cursor: the session's last statement is a FETCH from it."""
    import psycopg
    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", driver == "psycopg")  # the provider's own switch
    from tests.operators.conftest import POSTGRES

    table = f"contacts_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        host=POSTGRES["host"], port=POSTGRES["port"], user=POSTGRES["user"],
        password=POSTGRES["password"] or None, dbname=POSTGRES["db"], autocommit=True,
    )
    try:
        admin.execute(f"create table {table} (id int, email text, plan text)")
        admin.execute(
            f"insert into {table} select i, 'user' || i || '@example.com', 'p' from generate_series(1, 12000) i"
        )
        admin.execute(f"insert into {table} values (null, null, null)")
        stream = iter_records(sql=f"select * from {table} order by id nulls last", sql_conn_id=postgres_conn_id)
        assert next(stream) == {"email": "user1@example.com", "id": 1, "plan": "p"}
        last = admin.execute(
            "select query from pg_stat_activity where pid <> pg_backend_pid() and query ilike %s",
            ("%emailverify_%",),
        ).fetchall()
        assert any(q.strip().upper().startswith("FETCH") for (q,) in last), last
        rest = list(stream)
        assert len(rest) == 11_999 and rest[-1]["email"] == "user12000@example.com"
        assert stream.rejected == 1
    finally:
        admin.execute(f"drop table if exists {table}")
        admin.close()


def test_sql_from_mariadb(mariadb_conn_id):
    import MySQLdb

    from tests.operators.conftest import MARIADB

    table = f"contacts_{uuid.uuid4().hex[:8]}"
    admin = MySQLdb.connect(
        host=MARIADB["host"], port=MARIADB["port"], user=MARIADB["user"],
        password=MARIADB["password"], database=MARIADB["db"], autocommit=True,
    )
    cur = admin.cursor()
    try:
        cur.execute(f"create table {table} (id int, email varchar(200), plan varchar(20))")
        cur.executemany(
            f"insert into {table} values (%s, %s, %s)",
            [(i, f"user{i}@example.com", "p") for i in range(1, 12_001)] + [(None, "", None)],
        )
        stream = iter_records(sql=f"select * from {table} order by id is null, id", sql_conn_id=mariadb_conn_id)
        records = list(stream)
        assert len(records) == 12_000
        assert records[0] == {"email": "user1@example.com", "id": 1, "plan": "p"}
        assert stream.rejected == 1
    finally:
        cur.execute(f"drop table if exists {table}")
        admin.close()


# -- batching --------------------------------------------------------------------------------------
def test_batched_splits_lazily():
    pulled = []

    def gen():
        for i in range(7):
            pulled.append(i)
            yield {"email": f"u{i}@example.com"}

    batches = batched(gen(), 3)
    first = next(batches)
    assert pulled == [0]
    assert [r["email"] for r in first] == ["u0@example.com", "u1@example.com", "u2@example.com"]
    assert pulled == [0, 1, 2]
    assert [len(list(batch)) for batch in batches] == [3, 1]


def test_batched_edge_cases():
    assert list(batched(iter([]), 5)) == []
    assert [len(list(b)) for b in batched(({"email": str(i)} for i in range(6)), 3)] == [3, 3]
    with pytest.raises(ValueError, match="positive integer"):
        next(batched(iter([]), 0))


def test_batched_refuses_to_skip_an_unfinished_batch():
    batches = batched(({"email": str(i)} for i in range(10)), 4)
    first = next(batches)
    next(first)
    with pytest.raises(RuntimeError, match="consume each batch"):
        next(batches)
