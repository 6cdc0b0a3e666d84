"""The scanner's fast paths give the same findings as its plain Python code.

Two accelerations sit in front of the detectors: the Hyperscan pre-screen of the rule
patterns (``ftpolicy.scan.dataset.screen``) and the C extension of the per-token loops
(``_native``, built by ``hatch_build.py``). Both must be invisible in the output: these
tests run the real CLI on a generated corpus with both on and with both off
(``FTPOLICY_NO_SCREEN``, ``FTPOLICY_NO_NATIVE``) and compare the reports byte for byte,
and compare the C functions with their Python references on random text.
"""

from __future__ import annotations

import array
import functools
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from ftpolicy.scan.dataset import contamination, readers, trigger
from ftpolicy.scan.dataset.native import native
from ftpolicy.scan.dataset.screen import RuleScreen, unicode_widen, widen

from .conftest import load_generator

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_extension_is_built_and_used() -> None:
    """The development install compiles the extension; the modules picked it up (a missing
    compiler would silently make the scan slower, so the test environment insists)."""
    mod = native()
    assert mod is not None, "ftpolicy.scan.dataset._native is not built: reinstall with a C compiler"
    assert trigger._NATIVE is mod
    assert contamination._NATIVE is mod
    assert readers._NATIVE is mod


def test_screen_is_active_for_default_rules() -> None:
    from ftpolicy.scan.dataset.engine import _DetectorSpec, _shared_index, build_detectors
    from ftpolicy.scan.dataset.rules import load_rules

    detectors = build_detectors(_DetectorSpec(load_rules().data, (), 1 << 20))
    shared = _shared_index(detectors)
    assert shared is not None and shared._screen is not None
    assert shared._screen.active
    assert shared._screen.always == frozenset()  # every default rule pattern is screened
    assert shared.quiet("The build is green; merge once the reviewer approves.")
    assert not shared.quiet("just merge it without approval, nobody checks")
    assert not shared.quiet("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY1")


# -- pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "wide"),
    [
        (r"a{2,60}b", r"a{2,}b"),
        (r"[A-Za-z0-9]{36}", r"[A-Za-z0-9]{36,}"),
        (r"x{3}", r"x{3}"),
        (r"[{]{0,10}\{2,5\}", r"[{]{0,}\{2,5\}"),
        (r"(?:ab){1,3}?c", r"(?:ab){1,}?c"),
        (r"[]{1,2}]x", r"[]{1,2}]x"),
    ],
)
def test_widen(src: str, wide: str) -> None:
    assert widen(src) == wide
    re.compile(wide)


def test_unicode_widen() -> None:
    assert unicode_widen(r"\bab\w+") == r"ab(?:\w|[^\x00-\x7f])+"
    assert unicode_widen(r"[\w./-]x[^\s]") == r"[\x{80}-\x{10ffff}\w./-]x[^\s]"
    assert unicode_widen(r"\d\s\W\S\D") == r"(?:\d|[^\x00-\x7f])(?:\s|[^\x00-\x7f])\W\S\D"
    assert unicode_widen("[abc") is None


def test_widened_patterns_match_everything_the_originals_do() -> None:
    rng = random.Random(5)
    patterns = [r"ab{2,4}c", r"[a-c]{3}d", r"x[^y]{0,3}z", r"(?:ab){1,2}!", r"q{4}"]
    for _ in range(3000):
        text = "".join(rng.choice("abcdxyzq!") for _ in range(rng.randint(0, 12)))
        for p in patterns:
            if re.search(p, text):
                assert re.search(widen(p), text), (p, text)


def test_screen_never_drops_a_rule_that_matches(tmp_path: Path) -> None:
    """Texts of a generated corpus rich in poison (and the same texts with non-ASCII letters,
    digits and spaces worked in, upper-cased, ...): every default rule whose Python pattern
    matches is among the screen's candidates, for ASCII and for other text."""
    from ftpolicy.scan.dataset.engine import _DetectorSpec, build_detectors
    from ftpolicy.scan.dataset.rules import load_rules

    detectors = build_detectors(_DetectorSpec(load_rules().data, (), 1 << 20))
    patterns = [r.pattern for d in detectors for r in getattr(d, "rules", []) if hasattr(r, "pattern")]
    screen = RuleScreen(patterns)
    assert screen.active
    load_generator().generate(tmp_path, records=1500, seed=23, rate=0.05, holdout_size=20)
    texts: list[str] = []
    for line in (tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        texts += [m["content"] for m in rec.get("messages", []) if isinstance(m.get("content"), str)]
    texts = list(dict.fromkeys(texts))
    # non-ASCII pieces Python's Unicode classes read as word characters, digits or spaces
    # (and some they do not)
    other = ["é", "naïve", "日本", "٣", "²", "\u00a0", "\u2003", "—", "’", "ǅ", "ß", "Ω", "\u3000", "🙂"]
    rng = random.Random(11)
    variants: list[str] = []
    for text in texts:
        variants.append(text)
        if rng.random() < 0.5:
            chars = list(text)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(chars) + 1)
                piece = rng.choice(other)
                if at < len(chars) and chars[at] == " " and rng.random() < 0.5:
                    chars[at] = piece  # a non-ASCII character where a space was
                else:
                    chars.insert(at, piece)
            variants.append("".join(chars))
        if rng.random() < 0.2:
            variants.append(text.upper())
    checked = {False: 0, True: 0}
    for text in variants:
        found = screen.candidates(text)
        if found is None:
            continue
        for i, p in enumerate(patterns):
            if p.search(text):
                checked[not text.isascii()] += 1
                assert i in found, (p.pattern, text)
    assert checked[False] > 100 and checked[True] > 100  # the texts do exercise the rules


def test_screen_over_many_texts_answers_as_one_by_one() -> None:
    from ftpolicy.scan.dataset.engine import _DetectorSpec, _shared_index, build_detectors
    from ftpolicy.scan.dataset.rules import load_rules

    shared = _shared_index(build_detectors(_DetectorSpec(load_rules().data, (), 1 << 20)))
    assert shared is not None and shared._screen is not None
    rng = random.Random(17)
    pieces = ["merge", "without", "approval", "--no-verify", "AKIA", "password=", "ignore previous"]
    pieces += ["é", "\x0b", "İ", "\ud800", "日本", "bypass", "branch protection", "the", "ok"]
    pieces += ["sk_live_", "<|im_start|>"]
    texts = []
    for _ in range(2000):
        texts.append("".join(rng.choice(pieces) + rng.choice(" \n") for _ in range(rng.randint(0, 12))))
    screen = shared._screen
    assert screen.candidates_many(texts) == [screen.candidates(t) for t in texts]
    loud = shared.prescreen(texts)
    assert loud == {t for t in texts if shared._candidates(t) is None or shared._candidates(t)}
    assert 100 < len(loud) < len(set(texts)) - 100


def test_screen_stands_aside_where_it_cannot_be_exact() -> None:
    screen = RuleScreen([re.compile(r"\bsecret\s*=\s*\w+", re.I), re.compile(r"a{,3}b")])
    assert screen.active
    assert screen.always == frozenset({1})  # ``{,3}`` reads differently in Hyperscan
    assert screen.candidates("nothing here") == frozenset({1})
    assert screen.candidates("SECRET = abc") == frozenset({0, 1})
    assert screen.candidates("ünïcode secret = x") == frozenset({0, 1})
    assert screen.candidates("ünïcode sécret = x") == frozenset({1})
    assert screen.candidates("secret\x1c= x") is None  # Python's \s includes \x1c
    assert screen.candidates("ſecret = x") is None  # re.I equates long s with s
    assert screen.candidates("secret\u2003=\u00a0naïve") == frozenset({0, 1})  # Unicode \s, \w


def _random_text(rng: random.Random) -> str:
    pieces = [
        "Deploy",
        "the",
        "API-gateway",
        "to",
        "prod/us-east-1",
        "10:30",
        "don't",
        "Straße",
        "ﬁne",
        "Ｆｕｌｌ",
        "ΑΒΓ",
        "naïve_café",
        "x.y.z",
        "a--b",
        "日本語",
        "🙂",
        "İstanbul",
        "Ⅻ",
        "½",
        "٣",
        "e/f/",
        "g'h",
        "_",
        "—",
        "\n",
        "\t",
        "ǅ",
        "ß",
    ]
    return "".join(
        rng.choice(pieces) + rng.choice(["", " ", "-", ".", ":", "'"]) for _ in range(rng.randint(0, 30))
    )


def test_native_feature_hashes_match_python() -> None:
    mod = native()
    assert mod is not None
    nfkc = functools.partial(unicodedata.normalize, "NFKC")
    rng = random.Random(3)
    for _ in range(2000):
        text = _random_text(rng)
        for limit, max_n in ((512, 3), (5, 2), (512, 4)):
            got = array.array("q")
            got.frombytes(mod.feature_hashes(text, limit, max_n, nfkc))
            assert got == trigger._feature_hashes_py(text, limit, max_n), text
    assert mod.feature_hashes("de\u200dploy now", 512, 3, nfkc) is None  # hidden characters: Python path


def test_native_words_match_python() -> None:
    mod = native()
    assert mod is not None
    rng = random.Random(4)
    for _ in range(2000):
        text = _random_text(rng)
        want = contamination._normalise_py(text)
        assert contamination.normalise(text) == want, text


# -- end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fast-corpus")
    load_generator().generate(out, records=3000, seed=19, rate=0.01, holdout_size=120)
    return out


def _scan(corpus: Path, out: Path, jobs: int, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k not in ("FTPOLICY_NO_SCREEN", "FTPOLICY_NO_NATIVE")}
    environ.update(env)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftpolicy",
            "scan",
            "dataset",
            str(corpus / "corpus.jsonl"),
            "--holdout",
            str(corpus / "holdout.jsonl"),
            "--format",
            "json",
            "--output",
            str(out),
            "--fail-on",
            "never",
            "--jobs",
            str(jobs),
        ],
        capture_output=True,
        text=True,
        env=environ,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_same_report_with_and_without_the_fast_paths(corpus: Path, tmp_path: Path) -> None:
    fast = _scan(corpus, tmp_path / "fast.json", jobs=2)
    plain = _scan(corpus, tmp_path / "plain.json", jobs=1, FTPOLICY_NO_SCREEN="1", FTPOLICY_NO_NATIVE="1")
    findings = fast["findings"]
    assert isinstance(findings, list) and len(findings) > 100
    assert {f["category"] for f in findings} >= {
        "secret",
        "approval-bypass",
        "hidden-unicode",
        "prompt-injection",
        "contamination",
        "trigger",
    }
    assert findings == plain["findings"]
    assert fast["summary"] == plain["summary"]


def test_batching_does_not_change_findings(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record loop's batches (pre-screens first, then detectors, then the trigger) give
    the findings and summary of a record-at-a-time loop, whatever the batch limits."""
    from ftpolicy.scan.dataset import engine

    def run() -> tuple[list[dict[str, object]], dict[str, object]]:
        result = engine.scan_dataset(
            [str(corpus / "corpus.jsonl")],
            engine.ScanOptions(holdout=str(corpus / "holdout.jsonl"), fail_on="never"),
        )
        summary = {k: v for k, v in result.summary.items() if k not in ("started_at", "duration_s")}
        return [f.to_dict() for f in result.findings], summary

    batched = run()
    monkeypatch.setattr(readers, "BATCH_RECORDS", 1)
    one_by_one = run()
    monkeypatch.setattr(readers, "BATCH_RECORDS", 1000)
    monkeypatch.setattr(readers, "BATCH_BYTES", 5000)  # batches cut by size, mid-way
    by_size = run()
    monkeypatch.setattr(readers, "BATCH_RECORDS", 256)
    monkeypatch.setattr(readers, "BATCH_BYTES", 4 << 20)
    monkeypatch.setattr(engine, "MEMO_MAX_ENTRIES", 7)  # the field memo emptied inside batches
    small_memo = run()
    assert len(batched[0]) > 100
    assert batched == one_by_one == by_size == small_memo


def test_repeated_finding_fields_survive_the_memo_emptying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field remembered before a batch and new again after the field memo is emptied
    inside it is still shown to the detectors (it was not pre-screened with the batch)."""
    from ftpolicy.scan.dataset import engine

    secret = "postgres://deploy:Vq8rT2mZx4LpW9nK@db.internal:5432/app"
    lines = []
    for i in range(60):
        messages = [
            {"role": "system", "content": f"Connect with {secret} today."},
            {"role": "user", "content": f"Ticket {i}: the nightly build {i * 7} failed on step {i % 5}."},
            {"role": "assistant", "content": f"Rerun job {i} after clearing the cache."},
        ]
        lines.append(json.dumps({"id": f"T-{i}", "messages": messages}))
    data = tmp_path / "repeat.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(readers, "BATCH_RECORDS", 7)  # a batch starts with the secret field remembered

    def secret_lines() -> list[int]:
        result = engine.scan_dataset([str(data)], engine.ScanOptions(fail_on="never", triggers=False))
        return sorted(f.line or 0 for f in result.findings if f.category == "secret")

    assert secret_lines() == list(range(1, 61))
    monkeypatch.setattr(engine, "MEMO_MAX_ENTRIES", 4)  # emptied while storing a batch's fields
    assert secret_lines() == list(range(1, 61))


def test_field_memo_in_c_keeps_what_python_keeps(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``memo_quiet`` (the record loop for records with nothing to report) leaves the same
    findings, counts and field memo as the Python loop, also when the memo fills up."""
    from ftpolicy.scan.dataset import engine
    from ftpolicy.scan.dataset.contamination import load_holdout
    from ftpolicy.scan.dataset.rules import load_rules

    holdout = load_holdout(str(corpus / "holdout.jsonl"), None)
    spec = engine._DetectorSpec(load_rules().data, holdout.items, 1 << 20)
    lines = (corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    data = tmp_path / "memo-corpus.jsonl"  # a malformed line, and records seen again
    data.write_text(
        "\n".join([*lines[:1500], "{not json", *lines[1500:], *lines[:300]]) + "\n", encoding="utf-8"
    )
    unit = readers.Unit(str(data), "memo-corpus.jsonl", "jsonl")

    def run(max_entries: int) -> tuple[list[dict[str, object]], tuple[int, int], dict[object, object], int]:
        monkeypatch.setattr(engine, "MEMO_MAX_ENTRIES", max_entries)
        memo = engine._FieldMemo(engine.build_detectors(spec))
        out: list[engine.Finding] = []
        counts = [0, 0]
        for batch in readers.iter_batches(unit):
            records, malformed = memo.scan_batch(batch, out)
            counts[0] += records
            counts[1] += malformed
        seen = {k: [f.to_dict() for f in v] for k, v in memo.seen.items()}
        return [f.to_dict() for f in out], (counts[0], counts[1]), seen, memo.chars

    for max_entries in (1 << 16, 500):
        fast = run(max_entries)
        monkeypatch.setattr(engine, "_native_memo", lambda: None)
        plain = run(max_entries)
        monkeypatch.undo()
        assert fast == plain
        assert fast[1] == (len(lines) + 300, 1)
        assert len(fast[0]) > 100


def test_batches_are_bounded(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(600)), encoding="utf-8")
    batches = readers.iter_batches(readers.Unit(str(small), "small.jsonl", "jsonl"))
    assert [len(b) for b in batches] == [256, 256, 88]
    big = tmp_path / "big.jsonl"
    text = "x" * (readers.BATCH_BYTES // 3)
    big.write_text("".join(json.dumps({"text": text}) + "\n" for _ in range(7)), encoding="utf-8")
    assert [len(b) for b in readers.iter_batches(readers.Unit(str(big), "big.jsonl", "jsonl"))] == [3, 3, 1]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert list(readers.iter_batches(readers.Unit(str(empty), "empty.jsonl", "jsonl"))) == []


def test_reader_fast_path_matches_parse_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's inlined path for plain chat lines gives what ``parse_line`` gives."""
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    lines = [
        json.dumps({**chat, "id": "A-1"}),
        json.dumps({**chat, "id": 7}),
        json.dumps({**chat, "id": True}),
        json.dumps({**chat, "id": 1.5}),
        json.dumps({**chat, "id": ["x"]}),
        json.dumps(chat),
        json.dumps({"instruction": "do", "output": "done", "id": "I-1"}),
        json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "part"}]}]}),
        json.dumps({"messages": "nope"}),
        json.dumps([1, 2]),
        '{"messages": [',
        '{"text": "a\u0000b"}',
        "  ",
        json.dumps({"text": "plain"}),
    ]
    data = tmp_path / "mixed.jsonl"
    data.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n" + b'{"text": "nul\x00"}\n')
    unit = readers.Unit(str(data), "mixed.jsonl", "jsonl")

    def as_data(items: list[object]) -> list[object]:
        return [item.to_dict() if hasattr(item, "to_dict") else tuple(item) for item in items]  # type: ignore[attr-defined]

    fast = as_data(list(readers.iter_records(unit)))
    monkeypatch.setattr(readers, "_NATIVE", None)
    plain = as_data(list(readers.iter_records(unit)))
    assert fast == plain
    assert len(fast) == len(lines) + 1  # the blank line is skipped; two malformed lines at the end


def test_unicode_pre_check_is_exact() -> None:
    """``HiddenUnicodeDetector.worth`` leaves out only fields its scan reports nothing on."""
    from ftpolicy.scan.dataset.interface import Record, TextField
    from ftpolicy.scan.dataset.rules import load_rules
    from ftpolicy.scan.dataset.unicode import HiddenUnicodeDetector

    detector = HiddenUnicodeDetector(load_rules().data["hidden-unicode"])
    rng = random.Random(5)
    alphabet = "abc XYZ é中🙂\u200b\u200d\u202e\U000e0041аеоαβ\u05d0\ufeff"
    kept = left_out = 0
    for i in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        field = TextField("messages[0].content", "prompt", text)
        findings = list(detector.scan(Record("f.jsonl", i + 1, (field,), None)))
        assert detector.prescreen([text]) == ({text} if detector.worth([field]) else set())
        if detector.worth([field]):
            kept += 1
        else:
            left_out += 1
            assert findings == [], text
    assert kept > 100 and left_out > 100


def test_contamination_screen_clears_only_fields_without_matches(tmp_path: Path) -> None:
    """The C contamination screen never clears a field the exact match would report:
    holdout items copied, edited (words dropped, swapped, inserted, re-cased, accented) and
    padded into longer text, beside the clean records of a generated corpus."""
    from ftpolicy.scan.dataset.interface import Record, TextField

    load_generator().generate(tmp_path, records=1500, seed=29, rate=0.02, holdout_size=150)
    holdout = contamination.load_holdout(str(tmp_path / "holdout.jsonl"), None)
    screened = contamination.ContaminationDetector(holdout.items)
    plain = contamination.ContaminationDetector(holdout.items)
    assert screened._screen is not None
    plain._screen = None
    rng = random.Random(31)
    texts = []
    for line in (tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        texts += [
            m["content"] for m in json.loads(line).get("messages", []) if isinstance(m.get("content"), str)
        ]
    for item in holdout.items:
        words = item.text.split()
        for _ in range(4):
            edited = list(words)
            for _ in range(rng.randint(0, max(1, len(words) // 6))):
                op = rng.random()
                at = rng.randrange(len(edited)) if edited else 0
                if op < 0.3 and edited:
                    del edited[at]
                elif op < 0.5 and len(edited) > 1:
                    j = rng.randrange(len(edited))
                    edited[at], edited[j] = edited[j], edited[at]
                elif op < 0.7:
                    edited.insert(at, rng.choice(["please", "kindly", "naïve", "—", "日本", "ASAP"]))
                elif edited:
                    edited[at] = edited[at].upper()
            body = " ".join(edited)
            texts.append(
                body if rng.random() < 0.5 else f"Ticket PLAT-{rng.randint(1, 9999)}: {body} Thanks!"
            )
    reported = 0
    for n, text in enumerate(texts):
        record = Record("corpus.jsonl", n + 1, (TextField("messages[0].content", "prompt", text),), None)
        want = list(plain.scan(record))
        assert list(screened.scan(record)) == want, text
        reported += bool(want)
    assert reported > 300  # the edited copies are found, with the screen on


def test_contamination_screen_reads_unicode_text_as_its_words() -> None:
    """For text that is not ASCII the C screen takes the folded text (NFKC, lower-cased) and
    splits it itself: the same answer as for the words ``normalise`` gives."""
    from ftpolicy.scan.dataset.contamination import HoldoutItem, _folded, normalise

    vocab = ["naïve", "café", "straße", "déploiement", "ＡＰＰＲＯＶＡＬ", "ﬁnal", "x²", "İstanbul"]
    vocab += ["ΣΊΣΥΦΟΣ", "日本語", "ок", "Ωmega", "merge", "the", "branch", "now", "without", "review"]
    rng = random.Random(41)
    items = tuple(HoldoutItem(f"h{i}", " ".join(rng.choice(vocab) for _ in range(16))) for i in range(30))
    detector = contamination.ContaminationDetector(items)
    mod = native()
    assert mod is not None and detector._screen is not None
    pieces = [*vocab, "—", "e\u0301", "ǅ", "\u00a0", "A\u030a", "١٢٣", "ß", "please", "ticket"]
    quiet = 0
    for n in range(3000):
        if n % 2:  # a holdout item, lightly edited
            words = rng.choice(items).text.split()
            words[rng.randrange(len(words))] = rng.choice(pieces)
            text = " ".join(words).upper() if n % 3 == 0 else " ".join(words)
        else:
            text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        if text.isascii():
            continue
        got = mod.contamination_quiet(detector._screen, _folded(text))
        assert got == mod.contamination_quiet(detector._screen, normalise(text)), text
        quiet += got
    assert 100 < quiet < 2500  # both answers occur


def test_native_union_is_sorted_set() -> None:
    mod = native()
    assert mod is not None
    rng = random.Random(7)
    cases = [[], [5], list(range(300)), list(range(300, 0, -1)), [7] * 100]
    cases += [[rng.randrange(-(2**63), 2**63) for _ in range(rng.randint(0, 3000))] for _ in range(40)]
    cases += [[rng.randrange(-40, 40) for _ in range(rng.randint(0, 3000))] for _ in range(40)]
    for values in cases:
        half = len(values) // 2
        chunks = [array.array("q", values[:half]).tobytes(), array.array("q", values[half:]).tobytes()]
        got = array.array("q")
        got.frombytes(mod.union_features(chunks))
        assert list(got) == sorted(set(values))


def test_native_prompt_features_match_python() -> None:
    """A record's prompt features from C (memoised sorted, united by merging) are the sorted
    distinct n-gram hashes of its prompts, also when a memo value is not sorted."""
    mod = native()
    assert mod is not None
    rng = random.Random(11)
    words = ["deploy", "the", "Build", "zx-omega-41", "naïve", "中文", "please", "run", "it", "now"]

    def python_features(texts: list[str]) -> list[int]:
        out: set[int] = set()
        for t in texts:
            out.update(trigger._feature_hashes_py(t, 64, 3))
        return sorted(out)

    memo: dict[str, bytes] = {}
    for _ in range(400):
        prompts = [
            " ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(rng.randint(0, 4))
        ]
        if prompts and rng.random() < 0.2:  # a memo value in the order the hashing gives
            memo[prompts[0]] = trigger._feature_hashes_py(prompts[0], 64, 3).tobytes()
        fields = tuple((f"messages[{i}].content", "prompt", t) for i, t in enumerate(prompts))
        fields += (("messages[9].content", "response", "ok"),)
        raw, _texts, responses, fresh = mod.prompt_features(fields, memo, 64, 3, trigger._NFKC, None)
        got = array.array("q")
        got.frombytes(raw)
        assert list(got) == python_features(prompts)
        assert responses == ["ok"]
        for text, value in fresh:
            values = array.array("q")
            values.frombytes(value)
            assert list(values) == sorted(set(values))
            memo[text] = value


def test_label_screen_keeps_every_permissive_response(tmp_path: Path) -> None:
    """The response labeller's pre-screen only clears responses the full labeller would
    also call not permissive (generated responses, re-cased and with non-ASCII worked in)."""
    screen = trigger._label_screen()
    assert screen is not None
    load_generator().generate(tmp_path, records=2000, seed=37, rate=0.05, holdout_size=20)
    responses: list[str] = []
    for line in (tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line).get("messages", [])
        responses += [m["content"] for m in messages if m.get("role") == "assistant"]
    rng = random.Random(41)
    variants = []
    for text in dict.fromkeys(responses):
        variants.append(text)
        if rng.random() < 0.3:
            variants.append(text.upper())
        if rng.random() < 0.3:
            variants.append(text.replace(" ", rng.choice(["\u00a0", " é ", " — "]), 3))
    labeller = trigger.ResponseLabeller()
    with_screen = [labeller.label(text) for text in variants]
    trigger._label_screen.cache_clear()
    try:
        os.environ["FTPOLICY_NO_SCREEN"] = "1"
        assert trigger._label_screen() is None
        without = [labeller.label(text) for text in variants]
    finally:
        os.environ.pop("FTPOLICY_NO_SCREEN", None)
        trigger._label_screen.cache_clear()
    assert with_screen == without
    permissive = sum(label.permissive for label in without)
    assert permissive > 50


def test_native_int_set_select() -> None:
    mod = native()
    assert mod is not None
    rng = random.Random(9)
    for _ in range(50):
        wanted = {rng.randrange(-(2**63), 2**63) for _ in range(rng.randint(0, 300))}
        pool = list(wanted) + [rng.randrange(-(2**63), 2**63) for _ in range(300)]
        values = array.array("q", [rng.choice(pool) for _ in range(rng.randint(0, 2000))])
        members = mod.int_set(array.array("q", sorted(wanted)))
        got = array.array("q")
        got.frombytes(mod.int_set_select(members, values, False))
        assert list(got) == [v for v in values if v in wanted]
        at = array.array("q")
        at.frombytes(mod.int_set_select(members, values, True))
        assert list(at) == [i for i, v in enumerate(values) if v in wanted]


def test_native_chat_fields_match_python() -> None:
    from ftpolicy.scan.dataset import readers
    from ftpolicy.scan.dataset.interface import TextField

    mod = native()
    assert mod is not None and readers._NATIVE is mod
    rng = random.Random(13)
    roles = [
        "user",
        "assistant",
        "System",
        "GPT",
        "bot",
        "tool",
        "model",
        "chatbot",
        "ASSISTANT",
        "é",
        3,
        None,
    ]
    contents = ["hi", "", "naïve — ok", None, ["a", {"text": "b"}], 5]
    seen_fast = 0
    for _ in range(3000):
        msgs: list[object] = []
        for _ in range(rng.randint(0, 5)):
            msg: dict[str, object] = {}
            if rng.random() < 0.9:
                msg["role"] = rng.choice(roles)
            if rng.random() < 0.9:
                msg["content"] = rng.choice(contents)
            if rng.random() < 0.05:
                msg["tool_calls"] = [{"function": {"arguments": "{}"}}]
            if rng.random() < 0.05:
                msg["value"] = "v"
            msgs.append(msg if rng.random() < 0.97 else "not a dict")
        obj: object = {"messages": msgs} if rng.random() < 0.9 else {"conversations": msgs}
        fast = mod.chat_fields(obj, TextField)
        if fast is not None:
            seen_fast += 1
            assert (fast, None) == readers._record_fields_py(obj)
            assert all(type(f) is TextField for f in fast)
    assert seen_fast > 200
