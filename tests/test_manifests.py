"""The manifest reader on the real published sets and on hand-made messy files (docs/design/releases.md#manifests)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.errors import InputError, Origin
from generator.manifests.read import (parse_md5s, parse_sizes, parse_urls, read_manifest_set,
                                        read_md5s)
from generator.manifests.model import Size, human_size
from tests.conftest import REFERENCE


def test_published_laion2b_set_is_read_whole():
    manifests = read_manifest_set(REFERENCE / "laion2b-2023")
    for manifest in (manifests.urls, manifests.sizes, manifests.md5s):
        assert len(manifest.by_name) == 32
    assert manifests.md5s.get("laion2B-en-clip768v2-n=100M.h5").value == "9d8ee3347b1edf136b3ef38162ac05c3"
    size = manifests.size_of("laion2B-en-clip768v2-n=100M.h5")
    assert (size.value.text, size.value.exact, size.value.bytes) == ("147G", False, 147 * 1024**3)
    assert manifests.urls.get("meta-100M.tsv").value.endswith("/SISAP23-Challenge/meta-100M.tsv")
    assert manifests.conflicts() == []


def test_sisap2024_raw_set_with_tabs_and_megabyte_suffixes_is_read():
    manifests = read_manifest_set(REFERENCE / "sisap2024-raw")
    assert len(manifests.md5s.by_name) == 11
    gold = manifests.sizes.get("gold-standard-dbsize=100M--public-queries-2024-laion2B-en-clip768v2-n=10k.h5")
    assert gold.value == Size("77MB", 77 * 1024**2, False)
    assert gold.origin.line == 1
    private = manifests.sizes.get("private-queries-2024-laion2B-en-clip768v2-n=10k-epsilon=0.2.h5")
    assert private.value.text == "30MB" and private.origin.line == 11
    assert manifests.urls.get("public-queries-2024-laion2B-en-clip768v2-n=10k.h5").value.startswith("http://")


MESSY_MD5 = (
    "# md5 sums of the bundles\r\n"
    "\r\n"
    "9D8EE3347B1EDF136B3EF38162AC05C3  laion2B-en-clip768v2-n=100M.h5\r\n"
    "   15a24d28d2304e14711e23baf7fe86a4 *SISAP23-Challenge/laion2B-en-clip768v2-n=30M.h5   \r\n"
    "MD5 (meta-10M.tsv) = a9abbe13fb19207fb240f74fc03e2476\r\n"
    "c05e4b1d2b2a0c7663ac9767753e25e1\tlaion2B-en-clip768v2-n=10M.h5\n"
    "9d8ee3347b1edf136b3ef38162ac05c3  ./laion2B-en-clip768v2-n=100M.h5\n"
    "\t# an indented comment\n"
    "00000000000000000000000000000000  laion2B-en-clip768v2-n=10M.h5\n"
    "d238b4b037c32bae41e497f95dffa895  a name with spaces.h5\n"
)


def test_messy_md5_manifest_keeps_every_value_with_its_line():
    manifest = parse_md5s(MESSY_MD5, "md5.txt")
    assert set(manifest.by_name) == {"laion2B-en-clip768v2-n=100M.h5", "laion2B-en-clip768v2-n=30M.h5",
                                     "meta-10M.tsv", "laion2B-en-clip768v2-n=10M.h5", "a name with spaces.h5"}
    first = manifest.get("laion2B-en-clip768v2-n=100M.h5")
    assert first.value == "9d8ee3347b1edf136b3ef38162ac05c3"  # upper case folded
    assert first.origin == Origin("md5.txt", 3)
    prefixed = manifest.get("laion2B-en-clip768v2-n=30M.h5")
    assert prefixed.written_name == "SISAP23-Challenge/laion2B-en-clip768v2-n=30M.h5"
    assert prefixed.origin.line == 4
    assert manifest.get("meta-10M.tsv").value == "a9abbe13fb19207fb240f74fc03e2476"
    assert manifest.get("a name with spaces.h5").origin.line == 10


def test_duplicates_with_equal_values_agree_and_different_values_name_both_lines():
    manifest = parse_md5s(MESSY_MD5, "md5.txt")
    assert len(manifest.by_name["laion2B-en-clip768v2-n=100M.h5"]) == 2
    assert manifest.conflicts("laion2B-en-clip768v2-n=100M.h5") == []
    (conflict,) = manifest.conflicts()
    assert conflict.origin == Origin("md5.txt", 9)
    assert "'laion2B-en-clip768v2-n=10M.h5' is listed twice with different md5 values" in conflict.message
    assert "c05e4b1d2b2a0c7663ac9767753e25e1' at line 6" in conflict.message
    assert "00000000000000000000000000000000' at line 9" in conflict.message
    assert str(conflict).startswith("md5.txt:9: ")


def test_messy_size_manifest():
    text = " 147G laion2B-en-clip768v2-n=100M.h5\r\n77MB\tgold.h5\n  7.7M  x/meta.tsv\n\n783K a.h5\n8070000 exact.h5\n"
    manifest = parse_sizes(text, "size.txt")
    assert manifest.get("laion2B-en-clip768v2-n=100M.h5").value.bytes == 147 * 1024**3
    assert manifest.get("gold.h5").value == Size("77MB", 77 * 1024**2, False)
    assert manifest.get("meta.tsv").value.bytes == round(7.7 * 1024**2)
    assert manifest.get("a.h5").origin.line == 5
    assert manifest.get("exact.h5").value == Size("8070000", 8070000, True)


@pytest.mark.parametrize("text, message", [
    ("12.5 x.h5", "a byte count has no decimals"),
    ("lots x.h5", "'lots' is not a size"),
    ("147Q x.h5", "'147Q' is not a size"),
    ("147G", "not a size line"),
])
def test_bad_size_lines_are_errors_with_their_line(text, message):
    with pytest.raises(InputError) as error:
        parse_sizes("# header\n" + text + "\n", "size.txt")
    assert error.value.line == 2
    assert message in str(error.value) and str(error.value).startswith("size.txt:2: ")


@pytest.mark.parametrize("text, message", [
    ("1" * 400 + " x.h5", "'" + "1" * 37 + "...' is not a size"),
    ("1" * 400 + "G x.h5", "is not a size"),
    ("99999999999999999999 x.h5", "'99999999999999999999' is larger than any file can be"),
    ("16E x.h5", "'16E' is larger than any file can be"),
    ("\u00b2 x.h5", "'\u00b2' is not a size"),
    ("12\u0663 x.h5", "is not a size"),
])
def test_sizes_no_file_can_have_are_errors_with_their_line(text, message):
    with pytest.raises(InputError) as error:
        parse_sizes("# header\n" + text + "\n", "size.txt")
    assert str(error.value).startswith("size.txt:2: ") and message in str(error.value)


@pytest.mark.parametrize("parser, line, message", [
    (parse_md5s, "9d8ee3347b1edf136b3ef38162ac05c3  a\x00b.h5", "the name holds the control character U+0000"),
    (parse_sizes, "7.7M a\x1b[2Jb.h5", "the name holds the control character U+001B"),
    (parse_urls, "http://[::1/x.h5", "is not an http(s) URL"),
    (parse_urls, "http://h.example:99999/x.h5", "is not an http(s) URL"),
    (parse_urls, "http://h.example\x00/x.h5", "is not an http(s) URL"),
])
def test_names_and_urls_no_tool_could_use_are_errors_with_their_line(parser, line, message):
    with pytest.raises(InputError) as error:
        parser(line + "\n", "manifest.txt")
    assert str(error.value).startswith("manifest.txt:1: ") and message in str(error.value)


def test_every_bad_md5_line_is_reported_at_once():
    text = "not a hash  x.h5\n9d8ee3347b1edf136b3ef38162ac05c3  ok.h5\n9d8ee3347b1edf  short.h5\n" \
           "9d8ee3347b1edf136b3ef38162ac05c3  ../\n"
    with pytest.raises(InputError) as error:
        parse_md5s(text, "md5.txt")
    assert [p.origin.line for p in error.value.problems] == [1, 3, 4]
    assert "md5.txt:1: not an md5 line" in str(error.value)
    assert "'../' does not name a file" in str(error.value)


def test_url_manifest_keys_by_last_segment_and_accepts_only_http():
    manifest = parse_urls("https://h.example/a/b%20c.h5\r\n\nhttp://h.example/x.tsv\n", "urls.txt")
    assert manifest.get("b c.h5").value == "https://h.example/a/b%20c.h5"
    assert manifest.get("x.tsv").origin.line == 3
    for bad, reason in [("javascript:alert(1)//x.h5", "not an http(s) URL"),
                        ("ftp://h.example/x.h5", "not an http(s) URL"),
                        ("https://h.example/dir/", "does not end in a file name"),
                        ("https:///x.h5", "not an http(s) URL")]:
        with pytest.raises(InputError) as error:
            parse_urls("https://h.example/ok.h5\n" + bad + "\n", "urls.txt")
        assert str(error.value) == f"urls.txt:2: '{bad}' " + (
            "is not an http(s) URL; only http and https downloads are accepted"
            if reason.startswith("not") else reason)


def test_undecodable_bytes_name_their_line(tmp_path):
    path = tmp_path / "dataset-files-md5.txt"
    path.write_bytes(b"9d8ee3347b1edf136b3ef38162ac05c3  a.h5\n9d8ee3347b1edf136b3ef38162ac05c3  \xff.h5\n")
    with pytest.raises(InputError) as error:
        read_md5s(path)
    assert error.value.line == 2 and "not UTF-8" in str(error.value)


def test_a_folder_without_a_manifest_names_the_missing_file(tmp_path):
    (tmp_path / "dataset-files-urls.txt").write_text("https://h.example/a.h5\n")
    with pytest.raises(InputError) as error:
        read_manifest_set(tmp_path)
    assert f"{tmp_path / 'dataset-files-size.txt'}: manifest not found" in str(error.value)
    assert f"{tmp_path / 'dataset-files-md5.txt'}: manifest not found" in str(error.value)


@pytest.mark.parametrize("n, text", [(0, "0"), (1023, "1023"), (1024, "1.0K"), (1536, "1.5K"),
                                     (8_070_000, "7.7M"), (147 * 1024**3, "147G"), (10 * 1024**3 - 1, "10G")])
def test_human_sizes_round_up_like_du(n, text):
    assert human_size(n) == text


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
       parser=st.sampled_from([parse_md5s, parse_sizes, parse_urls]))
def test_any_text_gives_records_or_a_located_input_error(text, parser):
    try:
        manifest = parser(text, "fuzz.txt")
    except InputError as error:
        assert all(isinstance(p.origin.line, int) and p.origin.line >= 1 for p in error.problems)
        assert str(error).startswith("fuzz.txt:")
        return
    for entries in manifest.by_name.values():
        for entry in entries:
            assert entry.name and entry.name not in (".", "..") and "/" not in entry.name
            assert 1 <= entry.origin.line <= text.count("\n") + 1


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.tuples(st.text("0123456789abcdefABCDEF", min_size=32, max_size=32),
                                st.text(st.characters(codec="ascii", categories=["L", "N"]),
                                        min_size=1, max_size=20)), max_size=20))
def test_well_formed_md5_lines_round_trip(lines):
    text = "".join(f"{digest}  {name}\n" for digest, name in lines)
    manifest = parse_md5s(text, "md5.txt")
    for digest, name in lines:
        assert digest.lower() in [e.value for e in manifest.by_name[name]]
