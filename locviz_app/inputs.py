"""The input box's rules: how much one run takes, uploads decoded, the parser's errors shown."""

from __future__ import annotations

import gzip
import io
import zlib

import streamlit as st

from locviz.sequences import SNIFF_BYTES, ParseIssue, file_issue, first_non_utf8, iter_record_texts
from locviz_app.layout import escape_markdown

MAX_RECORDS = 500
MAX_TEXT_BYTES = 2_000_000
LIMITS_TEXT = (f"At most {MAX_RECORDS} sequences and {MAX_TEXT_BYTES / 1e6:.0f} MB of text per run "
               "(a .gz file is unpacked).")


def record_texts(text: str) -> list[str]:
    """The text of each record (raw text is one record), read by the one FASTA reader."""
    return [chunk for _, chunk in iter_record_texts(io.StringIO(text)) if chunk.strip()]


def over_limit_message(n_records: int) -> str:
    """Said once when an input has more records than one run takes."""
    return (
        f"{n_records} records, at most {MAX_RECORDS} per run. Predict the first {MAX_RECORDS} here, or all of "
        "them with `locviz predict FILE --out predictions.tsv` on the command line."
    )


def input_size_error(text: str) -> str | None:
    """A clear message when the text is over the size limit, else None."""
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        return (
            f"The input is {size / 1e6:.1f} MB; the app takes at most {MAX_TEXT_BYTES / 1e6:.0f} MB "
            f"({MAX_RECORDS} sequences) per run. Split the file, or run `locviz predict` on the command line."
        )
    return None


def decode_upload(data: bytes, name: str) -> tuple[str | None, str | None]:
    """(text, None) for a readable upload, (None, message) otherwise."""
    if len(data) > MAX_TEXT_BYTES:
        return None, (
            f"'{name}' is {len(data) / 1e6:.1f} MB; the app takes at most {MAX_TEXT_BYTES / 1e6:.0f} MB per run. "
            "Split the file, or run `locviz predict` on the command line."
        )
    problem = file_issue(data[:SNIFF_BYTES], f"'{name}'", gzip_ok=True)
    if problem:
        return None, problem
    if data.startswith(b"\x1f\x8b"):  # a .fasta.gz, as UniProt serves proteomes
        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(MAX_TEXT_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            return None, f"'{name}' looks gzip-compressed but cannot be unpacked ({exc}); upload the FASTA text"
        if len(data) > MAX_TEXT_BYTES:
            most = f"{MAX_TEXT_BYTES / 1e6:.0f} MB"
            return None, (f"'{name}' unpacks to more than {most}, the most the app takes per run. Split the file, "
                          "or run `locviz predict` on the command line (it reads .gz).")  # fmt: skip
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        where = first_non_utf8(data.splitlines(keepends=True), f"'{name}'")
        return None, where or f"'{name}' is not UTF-8 text: save it as UTF-8"


def show_issues(errors: list[ParseIssue], any_predicted: bool, limit: int = 20) -> None:
    """Parser errors (records left out), each naming record and position, in one box.

    Warnings about kept records (digits removed, ambiguous residues) are not repeated here: they
    travel with the record as notes, shown beside its result and in the table's notes column.
    """
    if not errors:
        return
    if len(errors) == 1 and not any_predicted:
        st.error(escape_markdown(errors[0]))
        return
    lines = [f"- {escape_markdown(issue)}" for issue in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"- … and {len(errors) - limit} more")
    head = "Some input was not used" if any_predicted else "Nothing could be predicted"
    st.error(f"**{head}:**\n" + "\n".join(lines))
