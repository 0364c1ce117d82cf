# Licensed under the Apache License, Version 2.0.
"""
NeverBounce downloads over real HTTP where the emulator takes shortcuts: verdicts kept per row at
indexing and read back a spool block at a time, and cells quoted in one go unless one needs escaping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.emulator.neverbounce_helpers import NB

#: (local part, domain, v4 result) by row index modulo 6
KINDS = [
    ("user", "example.com", "valid"),
    ("invalid", "example.com", "invalid"),
    ("c", "catchall.test", "catchall"),
    ("d", "mailinator.com", "disposable"),
    ("unknown", "example.com", "unknown"),
    ("info", "Mail.Example.co.uk", "valid"),
]
RESULT_CODES = {"valid": 0, "invalid": 1, "disposable": 2, "catchall": 3, "unknown": 4}


def expected_row(index: int) -> tuple[str, str, str, str]:
    """(address, v4 result, addr, host) of row ``index`` of the large list."""
    if index % 1000 == 999:
        return "User0@Example.com", "valid", "User0", "Example.com"  # a repeat of row 0
    if index % 7 == 6:
        return f"bad {index}", "invalid", "", ""
    local, domain, result = KINDS[index % len(KINDS)]
    return f"{local}{index}@{domain}", result, f"{local}{index}", domain


def test_verdicts_line_up_with_rows_across_blocks(nb: NB, emulator):
    """Thousands of rows span many spool blocks; the header object is a spooled record here."""
    emulator.set_option("neverbounce", object_header_row=True)
    count = 12_000
    job_id = nb.create([{"email": expected_row(index)[0], "note": f"n{index}"} for index in range(count)])
    nb.wait(job_id)
    lines = nb.csv_lines(job_id, include_duplicates=1, addr=1, host=1, email_status_int=1)
    assert lines[0] == "email,note,addr,host,email_status_int,email_status"
    assert len(lines) == count + 1
    for index, line in enumerate(lines[1:]):
        email, result, addr, host = expected_row(index)
        assert line == f'"{email}","n{index}",{addr},{host},{RESULT_CODES[result]},{result}', index
    first_only = nb.csv_lines(job_id, valids=1)
    assert len(first_only) == 1 + sum(
        1 for index in range(count) if expected_row(index)[1] == "valid" and index % 1000 != 999
    )
    repeats = nb.csv_lines(job_id, only_duplicates=1)
    assert repeats[1:] == ['"user0@example.com","n0",valid'] + [f'"User0@Example.com","n{index}",valid' for index in range(999, count, 1000)]


def test_cells_needing_quotes_among_plain_ones(nb: NB):
    rows = [
        ["email", "note", "extra"],
        ["a@example.com", "plain"],
        ["b@example.com", 'say "hi"', "x"],
        ["c@example.com"],
        ["d@example.com", "multi\nline", "x,y"],
        [],
        ["e@example.com", "ünï ☃ %s", "cr\ronly", "beyond the header"],
        ["f@example.com", "back\\slash", '\\"'],
    ]
    job_id = nb.create(rows)
    nb.wait(job_id)
    body = nb.download(job_id, line_feed_type="LINEFEED_0D0A", host=1).content.decode()
    assert body == (
        "email,note,extra,host,email_status\r\n"
        '"a@example.com","plain","",example.com,valid\r\n'
        '"b@example.com","say ""hi""","x",example.com,valid\r\n'
        '"c@example.com","","",example.com,valid\r\n'
        '"d@example.com","multi\nline","x,y",example.com,valid\r\n'
        '"","","",,invalid\r\n'
        '"e@example.com","ünï ☃ %s","cr\ronly","beyond the header",example.com,valid\r\n'
        '"f@example.com","back\\slash","\\""",example.com,valid\r\n'
    )


def test_rows_without_header_or_cells(nb: NB):
    job_id = nb.create([["a@example.com"], [], ["b@example.com", "x"]])
    nb.wait(job_id)
    assert nb.download(job_id, line_feed_type="LINEFEED_0A").content == b'"a@example.com",valid\ninvalid\n"b@example.com","x",valid\n'
    assert nb.download(job_id, line_feed_type="LINEFEED_0A", email_status=0).content == b'"a@example.com"\n\n"b@example.com","x"\n'


def test_v3_quotes_only_cells_that_need_it(fast_emulator):
    from tests.emulator.test_neverbounce_v3 import V3

    v3 = V3(fast_emulator)
    v3.login()
    job_id = v3.bulk('id,email,note\n1,a@example.com,plain\n2,b@example.com,"say ""hi"""\n3,c@example.com,"two\nlines"\n4,d@example.com,ünï\n')
    v3.wait(job_id)
    assert v3.post("download", job_id=job_id).text == (
        'id,email,note,result\n1,a@example.com,plain,valid\n2,b@example.com,"say ""hi""",valid\n'
        '3,c@example.com,"two\nlines",valid\n4,d@example.com,ünï,valid\n'
    )
