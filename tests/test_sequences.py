"""The parser: cleaning, the alphabet, and one clear message per kind of bad input."""

from __future__ import annotations

import pytest
from conftest import HUMAN_INSULIN

from locviz.sequences import MIN_LENGTH, SequenceError, parse, parse_strict


def test_raw_sequence_is_cleaned() -> None:
    raw = "1 " + HUMAN_INSULIN[:60].lower() + "\n 61 " + HUMAN_INSULIN[60:] + "*\n"
    result = parse(raw)
    assert result.ok
    (record,) = result.records
    assert record.id == "sequence_1"
    assert record.sequence == HUMAN_INSULIN
    messages = " ".join(w.message for w in result.warnings)
    assert "digit" in messages and "stop" in messages  # nothing dropped silently


def test_fasta_many_records_keep_order_and_description() -> None:
    text = f">P01308 insulin human\n{HUMAN_INSULIN}\n>second\n{HUMAN_INSULIN[::-1]}\n"
    result = parse(text)
    assert [r.id for r in result.records] == ["P01308", "second"]
    assert result.records[0].description == "insulin human"
    assert result.records[1].sequence == HUMAN_INSULIN[::-1]


def test_ambiguous_residues_are_kept_and_reported() -> None:
    seq = HUMAN_INSULIN[:20] + "XBZJUO" + HUMAN_INSULIN[20:40]
    result = parse(f">amb\n{seq}")
    assert result.records[0].sequence == seq
    assert any("6 ambiguous" in w.message for w in result.warnings)


def test_invalid_character_names_record_character_and_position() -> None:
    result = parse(f">good\n{HUMAN_INSULIN}\n>bad\nMKT1LL#QQQQQQQQQQ\n")
    assert [r.id for r in result.records] == ["good"]  # the rest still runs
    (error,) = result.errors
    assert error.record_id == "bad" and error.position == 6
    assert "'#'" in str(error) and "record 'bad', position 6" in str(error)


def test_stop_inside_sequence_is_an_error() -> None:
    result = parse(f">s\n{HUMAN_INSULIN[:30]}*{HUMAN_INSULIN[30:]}")
    assert not result.records
    assert result.errors[0].position == 31 and "only allowed at the end" in result.errors[0].message


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_input(text: str | None) -> None:
    result = parse(text)  # type: ignore[arg-type]
    assert not result.records and "empty" in result.errors[0].message


def test_empty_record() -> None:
    result = parse(f">empty\n>full\n{HUMAN_INSULIN}")
    assert [r.id for r in result.records] == ["full"]
    assert result.errors[0].record_id == "empty" and "empty" in result.errors[0].message


def test_dna_with_ambiguity_codes_is_a_nucleotide_sequence_and_proteins_made_of_such_letters_are_not() -> None:
    dna = "ACGTTGCAAGGCTTACGATC" * 15
    ambiguous = "".join("RYKMSWBDHV"[i % 10] if i % 4 == 0 else c for i, c in enumerate(dna))  # a quarter ambiguous
    (error,) = parse(f">amb\n{ambiguous}\n").errors
    assert "looks like a nucleotide sequence (75% A/C/G/T/U/N, the rest IUPAC ambiguity codes)" in str(error)
    assert parse(f">p\n{'MKVLAAGIVG' * 20}\n").ok  # every letter could be a nucleotide code but M, L, I: a protein
    assert parse(f">q\n{'ACDGHKMNRSTVWY' * 10}\n").ok  # only nucleotide codes, but not 60 % A/C/G/T/U/N


def test_nucleotide_sequence() -> None:
    result = parse(">dna\nATGGCGTTAGCTAGCTAGGCTAACGTAGCTAGCATCGAT")
    assert "nucleotide" in result.errors[0].message and result.errors[0].record_id == "dna"


def test_too_short() -> None:
    result = parse(">pep\nMKTAY")
    assert f"at least {MIN_LENGTH}" in result.errors[0].message


def test_duplicate_names() -> None:
    result = parse(f">a\n{HUMAN_INSULIN}\n>a\n{HUMAN_INSULIN}")
    assert len(result.records) == 1
    assert result.errors[0].record_id == "a" and "duplicate" in result.errors[0].message


def test_text_before_first_header_is_reported_and_the_records_after_it_are_read() -> None:
    """A stray first line used to cost every record of the file (a user lost six)."""
    result = parse(f"hello\n\nnotes\n>a\n{HUMAN_INSULIN}\n>b\n{HUMAN_INSULIN}")
    assert [r.id for r in result.records] == ["a", "b"]
    assert [e.message for e in result.errors] == [
        "text before the first FASTA header (lines 1-3) is not part of any record and was skipped; put a '>' "
        "header line above a sequence to predict it"]  # fmt: skip
    assert result.errors[0].kind == "preamble"
    assert parse("a>b inside a line is not a header").records == []  # no header: one raw sequence (refused here)


def test_streamed_records_carry_text_before_the_first_header_with_the_first_record() -> None:
    """The command and the cluster read files record by record: the first record's text holds the stray lines,
    and parse() reports them and reads the record, as it does for the whole text."""
    import io

    from locviz.sequences import iter_record_texts

    text = f"stray\n>a\n{HUMAN_INSULIN}\n>b\n{HUMAN_INSULIN}\n"
    chunks = list(iter_record_texts(io.StringIO(text)))
    assert [line for line, _ in chunks] == [2, 4] and chunks[0][1].startswith("stray\n>a\n")
    first = parse(chunks[0][1])
    assert [r.id for r in first.records] == ["a"] and first.errors[0].kind == "preamble"
    assert list(iter_record_texts(io.StringIO(f"\n{HUMAN_INSULIN}\n"))) == [(2, f"\n{HUMAN_INSULIN}\n")]
    assert list(iter_record_texts(io.StringIO(""))) == [(1, "")]


def test_record_limit() -> None:
    text = "".join(f">r{i}\n{HUMAN_INSULIN}\n" for i in range(4))
    result = parse(text, max_records=3)
    assert not result.records and "at most 3" in result.errors[0].message


def test_parse_strict_raises_with_all_issues() -> None:
    with pytest.raises(SequenceError) as info:
        parse_strict(">x\nMK@\n>y\nMKT")
    assert len(info.value.issues) == 2


def wrapped(sequence: str, width: int = 60) -> str:
    return "\n".join(sequence[i : i + width] for i in range(0, len(sequence), width))


OTHER = HUMAN_INSULIN[::-1] + "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"  # a second protein, 143 residues


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("human PDI\n" + wrapped(HUMAN_INSULIN), "line 1 ('human PDI') has words while the lines under"),
        (HUMAN_INSULIN + "\n\n" + OTHER, "the text has 2 blocks separated by blank lines, so it looks like 2 proteins"),
        (HUMAN_INSULIN * 3 + "\n" + OTHER, "line 1 alone has 330 letters and 1 more line(s) follow"),
        (wrapped(HUMAN_INSULIN) + "\n" + wrapped(OTHER), "line 2 is shorter than the lines after it (50 letters"),
    ],
)
def test_raw_text_that_looks_like_several_proteins_or_a_name_is_refused_not_joined(text: str, says: str) -> None:
    """Joined, such text would be one protein that exists nowhere, every position shifted: the user adds headers."""
    result = parse(text)
    assert result.records == [] and len(result.errors) == 1
    assert says in str(result.errors[0]) and "'>'" in str(result.errors[0])


def test_one_wrapped_or_numbered_protein_is_still_one_raw_sequence() -> None:
    blocks = "\n".join(f"{i + 1} " + " ".join(HUMAN_INSULIN[j : j + 10] for j in range(i, min(i + 60, 110), 10))
                       for i in range(0, 110, 60))  # fmt: skip
    ragged = HUMAN_INSULIN[:50] + "\n" + HUMAN_INSULIN[50:]  # a copy that started mid-line
    for text in (wrapped(HUMAN_INSULIN), blocks, HUMAN_INSULIN, ragged):
        (record,) = parse(text).records
        assert record.sequence == HUMAN_INSULIN


def test_english_under_a_fasta_header_is_refused_as_text() -> None:
    """Biopython drops the spaces of a record; the words are still what shows prose."""
    result = parse(">e\nSHE SAID THAT IT WAS FINE AND THEN LEFT HER THERE WITH THE DRINKS\n")
    assert result.records == [] and "14 words of varying length" in str(result.errors[0])


def test_alignment_gaps_are_one_message_and_a_repeat_is_not_called_dna() -> None:
    result = parse(">aligned\n" + HUMAN_INSULIN[:30] + "---" + HUMAN_INSULIN[30:60] + "..-" + HUMAN_INSULIN[60:])
    (gaps,) = result.errors
    assert "6 alignment gap character(s) '-' or '.' (the first at position 31): remove the gaps" in str(gaps)
    for repeat in ("A" * 300, "GA" * 150):  # Ala / Gly-Ala repeats: not a protein anyone has, but not DNA either
        assert "nucleotide" not in " ".join(map(str, parse(repeat).errors))
    assert "nucleotide" in str(parse("ACGTTGCA" * 40).errors[0])


def test_records_made_by_hand_are_checked_and_bytes_are_refused() -> None:
    from locviz.errors import InputError
    from locviz.sequences import ProteinRecord

    assert ProteinRecord("ok", HUMAN_INSULIN).sequence == HUMAN_INSULIN
    refused = (("", "the sequence is empty"), ("MKV-LLA", "position 4: '-' is not an upper-case"),
               ("mkvlla", "position 1: 'm'"), ("ACGT" * 50, "looks like a nucleotide sequence"))
    for sequence, says in refused:
        with pytest.raises(InputError, match=says):
            ProteinRecord("x", sequence)
    with pytest.raises(InputError, match=r"parse takes text \(str\), not bytes; decode it first"):
        parse(b">a\nMKV")  # type: ignore[arg-type]


def test_non_ascii_letters_are_refused_by_name_not_upper_cased_into_residues() -> None:
    for odd, name in (("ß", "LATIN SMALL LETTER SHARP S"), ("Α", "GREEK CAPITAL LETTER ALPHA"), ("ı", "DOTLESS I")):
        result = parse(f">odd\n{HUMAN_INSULIN[:30]}{odd}{HUMAN_INSULIN[31:]}\n")
        assert result.records == []  # 'ß'.upper() is "SS": a residue nobody gave
        (error,) = result.errors
        assert "position 31" in str(error) and name in str(error) and f"U+{ord(odd):04X}" in str(error)


def test_byte_order_mark_and_old_mac_line_ends_in_parse() -> None:
    text = f"\ufeff>a first\r{HUMAN_INSULIN[:60]}\r{HUMAN_INSULIN[60:]}\r>b\r{HUMAN_INSULIN}\r"
    result = parse(text)
    assert result.errors == [] and [(r.id, r.description, r.sequence) for r in result.records] == [
        ("a", "first", HUMAN_INSULIN), ("b", "", HUMAN_INSULIN)]  # fmt: skip


def test_a_tab_ends_the_record_name() -> None:
    (record,) = parse(f">my\tprot desc\n{HUMAN_INSULIN}\n").records
    assert (record.id, record.description) == ("my", "prot desc")


def test_what_cleaning_changed_is_noted() -> None:
    (record,) = parse(f">lc\n{HUMAN_INSULIN[:10].lower()}{HUMAN_INSULIN[10:]}**\n").records
    assert record.sequence == HUMAN_INSULIN
    assert record.notes == ("read 10 lower-case letter(s) as upper case (the model ignores case, so lower-case "
                            "masking is not used)", "removed 2 trailing stop codons '*'")  # fmt: skip


def test_headers_without_sequences_say_where_the_sequence_should_go() -> None:
    (on_header,) = parse(f">{HUMAN_INSULIN}\n").errors
    assert "the '>' header line holds what looks like a sequence" in str(on_header)
    for header in (">test_1\n", ">\n"):  # a user's own name, not a UniProt entry name to look up
        (error,) = parse(header).errors
        assert "give the sequence on the lines after the '>' header" in str(error) and "accession" not in str(error)
    assert "does not look accessions up" in str(parse(">PDIA1_HUMAN\n").errors[0])


def test_a_duplicate_of_a_refused_record_is_refused_after_it() -> None:
    result = parse(f">x\nMKT\n>x\n{HUMAN_INSULIN}\n")  # as the command line's streamed reader does
    assert result.records == [] and [str(e) for e in result.errors] == [
        "record 'x': only 3 residues; at least 10 are needed", "record 'x': duplicate record name; give every record a "
        "unique name"]  # fmt: skip


def test_a_refused_unnamed_record_still_says_its_name_is_made_up() -> None:
    result = parse(f">a\n{HUMAN_INSULIN}\n>\nMK#\n")
    assert [w.kind for w in result.warnings] == ["unnamed"] and "record_2" in str(result.errors[0])


@pytest.mark.parametrize("text", ["Met Ala Trp Met Arg Leu Leu Pro", "MET-ALA-TRP-MET-ARG-ILE", "MET ALA TRP LYS"])
def test_three_letter_codes_are_refused_with_the_fix(text: str) -> None:
    (error,) = parse(text).errors
    assert "written in three-letter codes" in str(error) and "seq1" in str(error)
    assert parse("MKVAL LAGLL SAAHE LLKRA").ok  # groups of five one-letter codes are a sequence


def test_lower_case_entry_names_in_a_body_are_still_accessions() -> None:
    assert "does not look accessions up" in str(parse("pdia1_human").errors[0])
