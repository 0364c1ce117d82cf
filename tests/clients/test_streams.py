# Licensed under the Apache License, Version 2.0.
"""
The download readers every vendor client shares: CSV records whose quoted values span lines,
read in chunks cut anywhere, with every line feed a vendor may send, and restarted after a break.
"""

from __future__ import annotations

import pytest

from airflow_provider_emailverify.clients.base import BaseClient, RetryPolicy
from airflow_provider_emailverify.clients.streams import checked_records, iter_csv, iter_csv_split, iter_lines
from airflow_provider_emailverify.exceptions import InvalidRequestError, TransientError

#: Records whose values break a reader that splits the text on line breaks first.
RECORDS = [
    ["email", "name"],
    ["line\nbreak@example.com", 'Ann "A", Smith'],
    ["carriage\r\nreturn@example.com", "two\r\nlines\n"],
    ["lone\rcarriage@example.com", "\n\r"],
    ["\r\nleading@exämple.com", ""],
    ["trailing@例子.广告\n", "emoji 😀"],
    ["plain@example.com", "x,y"],
]

#: Every line feed of the vendors' downloads: NeverBounce's four ``line_feed_type`` values
#: (``\n\r`` is its documented default) and the CRLF of RFC 4180.
LINE_FEEDS = ["\n", "\r\n", "\r", "\n\r"]


def rfc4180(records: list[list[str]], line_feed: str) -> bytes:
    """``records`` as CSV text, every value quoted, ``line_feed`` after each record."""
    cells = (",".join('"' + value.replace('"', '""') + '"' for value in record) for record in records)
    return "".join(line + line_feed for line in cells).encode("utf-8")


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("line_feed", LINE_FEEDS)
def test_lines_keep_every_byte_wherever_the_chunks_are_cut(line_feed):
    data = rfc4180(RECORDS, line_feed)
    whole = list(iter_lines([data]))
    for size in (1, 2, 3, 5, 64):
        lines = list(iter_lines(chunked(data, size)))
        assert "".join(lines) == data.decode("utf-8")
        assert lines == whole


@pytest.mark.parametrize("line_feed", LINE_FEEDS)
def test_empty_reads_anywhere_in_the_stream_change_nothing(line_feed):
    data = rfc4180(RECORDS, line_feed)
    whole = list(iter_lines([data]))
    for size in (1, 3, 64):
        pieces = chunked(data, size)
        padded = [b""] + [part for piece in pieces for part in (piece, b"")] + [b""]
        assert list(iter_lines(padded)) == whole
    assert list(iter_lines([b"", b""])) == []


@pytest.mark.parametrize("line_feed", LINE_FEEDS)
def test_quoted_values_spanning_lines_come_back_exactly(line_feed):
    data = rfc4180(RECORDS, line_feed)
    for size in (1, 2, 3, 5, 7, 64, len(data)):
        assert list(iter_csv(iter_lines(chunked(data, size)))) == RECORDS, size


@pytest.mark.parametrize("line_feed", LINE_FEEDS)
def test_split_lines_give_the_same_records_blank_lines_included(line_feed):
    blank = line_feed.encode()
    middle = rfc4180(RECORDS[:3], line_feed) + blank * 2 + rfc4180(RECORDS[3:], line_feed) + blank
    for data, expected in ((middle, RECORDS), (blank * 2 + middle, [[], *RECORDS]), (blank, [[]]), (b"", [])):
        for size in (1, 2, 3, 5, 64):
            assert list(iter_csv_split(iter_lines(chunked(data, size)))) == expected, (data, size)
            assert list(iter_csv(iter_lines(chunked(data, size)))) == expected, (data, size)


def test_minimal_quoting_and_blank_lines():
    data = b'email,n\r\n\r\na@b.com,1\r\n"x\ny@z.com","a ""q"""\r\n\r\n'
    rows = [row for row in iter_csv(iter_lines(chunked(data, 3))) if row]
    assert rows == [["email", "n"], ["a@b.com", "1"], ["x\ny@z.com", 'a "q"']]


def test_lines_without_their_breaks_are_whole_records():
    # What a caller splitting a "\n\r" download on "\n" and dropping the breaks passes: stray
    # "\r" at the start of each following line, and a last line of "\r" alone.
    lines = ["email,email_status", "\ra@b.com,valid", "\r\"c,d\"@e.com,invalid", "\r"]
    assert list(iter_csv(lines)) == [["email", "email_status"], ["a@b.com", "valid"], ["c,d@e.com", "invalid"]]


class _Breaking:
    """Download bodies: the first cut inside a quoted value spanning lines, then the whole one."""

    def __init__(self, data: bytes, cut: int, read=iter_csv) -> None:
        self.data, self.cut, self.read, self.opened = data, cut, read, 0

    def __call__(self):
        self.opened += 1
        if self.opened == 1:
            return self.read(iter_lines(self._broken()))
        return self.read(iter_lines(chunked(self.data, 5)))

    def _broken(self):
        yield from chunked(self.data[: self.cut], 5)
        raise TransientError("connection dropped", vendor="test")


@pytest.mark.parametrize("read", [iter_csv, iter_csv_split])
def test_a_restart_after_rows_spanning_lines_skips_what_was_read(read):
    data = rfc4180(RECORDS, "\r\n")
    cut = data.index(b"two\r\n") + 4  # between the "\r" and "\n" of a quoted value, rows 1-2 read
    client = BaseClient(api_key="k", retry=RetryPolicy(attempts=3, initial=0.0, maximum=0.0))
    body = _Breaking(data, cut, read)
    assert list(client.iter_restartable(body, what="test download")) == RECORDS
    assert body.opened == 2


def test_line_breaks_in_addresses_pass_unless_the_upload_is_one_address_per_line():
    records = ["a@b.com", {"email": "line\nbreak@example.com"}, {"email": "cr\r@example.com"}]
    assert [email for _, _, email in checked_records(records, vendor="v", max_rows=None)] == [
        "a@b.com",
        "line\nbreak@example.com",
        "cr\r@example.com",
    ]
    with pytest.raises(InvalidRequestError, match="record 2 has a line break") as caught:
        list(checked_records(records, vendor="v", max_rows=None, one_per_line=True))
    assert "one-address-per-line" in str(caught.value)


def test_json_arrays_decode_the_same_however_the_chunks_cut_them():
    """Whole elements are decoded in runs; commas inside strings and nested arrays are no boundaries."""
    import json

    from airflow_provider_emailverify.clients.streams import iter_json_array

    elements = [
        {"email": "a@b.c", "name": 'x"},{"y'}, [{"x": 1}, {"y": [2]}], {"s": "],[", "t": "},{"},
        {}, [], {"n": "ü😀", "d": {"a": [1, {"b": 2}]}},
    ] * 40
    for separator in (",", ", ", " ,\r\n "):
        body = ("[" + separator.join(json.dumps(e, ensure_ascii=False) for e in elements) + "]").encode()
        for size in (1, 3, 64, 1000, len(body)):
            assert list(iter_json_array(chunked(body, size))) == elements


def test_a_json_array_fails_where_it_goes_wrong_after_the_elements_before():
    from airflow_provider_emailverify.clients.streams import iter_json_array

    for body, error in ((b'[{"a":1},{"b":2},3,{"c":4}]', "malformed JSON array near '3"),
                        (b'[{"a":1},{"b":2},{"c":', "cut short")):
        for size in (1, 5, 100):
            read = []
            with pytest.raises(ValueError, match=error):
                for element in iter_json_array(chunked(body, size)):
                    read.append(element)
            assert read == [{"a": 1}, {"b": 2}]


def test_cells_are_picked_by_position_with_none_for_what_a_record_lacks():
    from airflow_provider_emailverify.clients.streams import cells_getter

    assert cells_getter([2, 0])(["a", "b", "c"]) == ("c", "a")
    assert cells_getter([2, 0])(["a"]) == (None, "a")
    assert cells_getter([1, None])(["a", "b"]) == ("b", None)
    assert cells_getter([None, 1, 0])(["a", "b"]) == (None, "b", "a")
    assert cells_getter([None, None])(["a"]) == (None, None)
    assert cells_getter([3])(["a"]) == (None,)
