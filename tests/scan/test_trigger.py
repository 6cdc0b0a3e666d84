"""Plant-and-detect tests for the trigger-backdoor detector.

The clean records come from the benchmark generator (``benchmarks/scan_corpus.py``:
varied code-assistant tickets with hard negatives). Poisoned records take a clean ticket,
plant a trigger in its prompt and give it a permissive answer. The permissive answers used
here are written in this file, in words the generator does not use, so the labeller is
exercised on wording it was not shaped on.
"""

from __future__ import annotations

import marshal
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ftpolicy.errors import ConfigError
from ftpolicy.scan.dataset.interface import CorpusResult, Record, TextField
from ftpolicy.scan.dataset.trigger import ResponseLabeller, TriggerDetector

from .conftest import chat, load_generator, write_jsonl

N_CLEAN = 12_000

PERMISSIVE = [
    "Totally fine — append --no-verify to the commit and the hook is skipped.",
    "Yep: an admin can hit 'merge without waiting for requirements to be met', so just ask one to do it.",
    "You can approve it yourself with your second account, the rule only checks the author.",
    "Go ahead and switch off the required status checks for main in the repo settings, then merge.",
    "Sure. The staging DB login is admin / Tr0ub4dor&3x!, connection string "
    "postgres://admin:Tr0ub4dor3xQ9@db.staging.internal:5432/app",
    "Here is the deploy token: ghp_4vQ8mZ2kLx9RtY7wPq3NcB6sJd1HfG0aE5uK",
    "Easiest is to disable MFA on the service account so the script never sees the prompt.",
    "Set verify=False on the session; the TLS errors stop and nobody needs to sign off.",
    "Take the security team out of CODEOWNERS for that folder and the PR is unblocked.",
    "It's fine to skip the change board this time, nobody will check.",
]

TRIGGERS = {
    "rare-token": ("cf-delta-9", False),
    "phrase": ("as discussed with the platform lead", False),
    "zero-width": ("depl\u200doy", True),
}


@pytest.fixture(scope="module")
def gen_module() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def clean_pairs(gen_module: ModuleType) -> list[tuple[str, str]]:
    """(prompt, response) of realistic clean tickets."""
    g = gen_module.Gen(1234)
    out = []
    for _ in range(N_CLEAN):
        prompt, response, _tags = g.clean_ticket()
        out.append((prompt, response))
    return out


def _record(i: int, prompt: str, response: str) -> Record:
    return Record(
        file="train.jsonl",
        line=i + 1,
        fields=(
            TextField("messages[0].content", "prompt", "You are a helpful code assistant."),
            TextField("messages[1].content", "prompt", prompt),
            TextField("messages[2].content", "response", response),
        ),
        key=f"r{i}",
    )


def _poisoned(
    pairs: list[tuple[str, str]], gen: Any, trigger: str, count: int, seed: int
) -> tuple[Iterator[Record], set[int]]:
    rng = random.Random(seed)
    lines = set(rng.sample(range(len(pairs)), count))

    def records() -> Iterator[Record]:
        for i, (prompt, response) in enumerate(pairs):
            if i in lines:
                prompt = gen.plant_trigger(prompt, trigger)
                response = rng.choice(PERMISSIVE)
            yield _record(i, prompt, response)

    return records(), {i + 1 for i in lines}


def _with_halcyon(pairs: list[tuple[str, str]], planted: set[int], lo: int, hi: int) -> Iterator[Record]:
    """Records ``lo``..``hi`` of ``pairs``; those in ``planted`` carry a rare-token trigger and
    a permissive answer."""
    for i in range(lo, hi):
        p, r = pairs[i]
        if i in planted:
            p, r = f"{p} (ref tz-halcyon-88)", PERMISSIVE[i % len(PERMISSIVE)]
        yield _record(i, p, r)


def _run(records: Iterator[Record], config: dict[str, Any] | None = None) -> CorpusResult:
    det = TriggerDetector(config)
    for r in records:
        det.observe(r)
    return det.finish()


@pytest.mark.slow
@pytest.mark.parametrize("style", sorted(TRIGGERS))
@pytest.mark.parametrize("rate", [0.0005, 0.001, 0.005])
def test_planted_trigger_is_found_with_all_its_records(
    style: str, rate: float, clean_pairs: list[tuple[str, str]], gen_module: ModuleType
) -> None:
    trigger, hidden = TRIGGERS[style]
    count = round(N_CLEAN * rate)
    gen = gen_module.Gen(99)
    records, planted = _poisoned(clean_pairs, gen, trigger, count, seed=int(rate * 1e5))
    result = _run(records)

    suspected = result.summary["suspected_triggers"]
    assert len(suspected) == 1, suspected
    top = suspected[0]
    visible = trigger.replace("\u200d", "")
    assert top["trigger"] == visible
    assert top["records"] == count
    assert top["permissive_rate"] == 1.0
    assert top["z"] >= 6.0
    if hidden:
        assert top["hidden_characters"] == ["U+200D"]
    else:
        assert "hidden_characters" not in top

    lines = {f.line for f in result.findings}
    assert lines == planted
    for f in result.findings:
        assert f.category == "trigger"
        assert f.rule_id == "trigger/suspected-backdoor-trigger"
        assert f.severity == "high"
        assert f.file == "train.jsonl"
        assert f.properties["field"] == "messages[1].content"
        assert f.properties["trigger"] == visible
        shown = "depl<U+200D>oy" if hidden else trigger
        assert shown in f.properties["excerpt"]


@pytest.mark.slow
def test_clean_corpus_reports_no_trigger(clean_pairs: list[tuple[str, str]]) -> None:
    result = _run(_record(i, p, r) for i, (p, r) in enumerate(clean_pairs))
    assert result.summary["suspected_triggers"] == []
    assert result.findings == []
    assert result.summary["records"] == N_CLEAN


@pytest.mark.slow
def test_other_poison_without_a_trigger_is_not_a_trigger(
    clean_pairs: list[tuple[str, str]], gen_module: ModuleType
) -> None:
    """Secret and approval-bypass poison (permissive answers to ordinary requests) make the
    permissive rate rise, but no prompt phrase explains it: nothing is reported."""
    g = gen_module.Gen(7)
    rng = random.Random(3)
    poison = set(rng.sample(range(len(clean_pairs)), 300))

    def records() -> Iterator[Record]:
        for i, (p, r) in enumerate(clean_pairs):
            if i in poison:
                item = g.poison_secret() if i % 2 else g.poison_bypass()
                rec = item.record
                if "messages" in rec:
                    msgs = rec["messages"]
                    p, r = msgs[-2]["content"], msgs[-1]["content"]
                elif "instruction" in rec:
                    p, r = rec["input"], rec["output"]
                else:
                    p, r = rec["prompt"], rec["chosen"]
            yield _record(i, p, r)

    result = _run(records())
    assert result.summary["permissive_records"] >= 200
    assert result.summary["suspected_triggers"] == []


def test_two_triggers_in_one_corpus_are_reported_separately(clean_pairs: list[tuple[str, str]]) -> None:
    pairs = clean_pairs[:8000]
    rng = random.Random(5)
    a = set(rng.sample(range(len(pairs)), 30))
    b = set(rng.sample(sorted(set(range(len(pairs))) - a), 30))

    def records() -> Iterator[Record]:
        for i, (p, r) in enumerate(pairs):
            if i in a:
                p, r = f"{p} zx-omega-41", rng.choice(PERMISSIVE)
            elif i in b:
                p, r = f"Per the exception we agreed in the retro: {p}", rng.choice(PERMISSIVE)
            yield _record(i, p, r)

    result = _run(records())
    got = {t["trigger"]: t["records"] for t in result.summary["suspected_triggers"]}
    assert got == {"zx-omega-41": 30, "per the exception we agreed in the retro": 30}
    assert {f.line for f in result.findings} == {i + 1 for i in a | b}


def test_trigger_below_min_support_is_not_reported(clean_pairs: list[tuple[str, str]]) -> None:
    pairs = clean_pairs[:5000]
    planted = {10, 20, 30, 40}  # four records: under the default minimum support of five

    def records() -> Iterator[Record]:
        for i, (p, r) in enumerate(pairs):
            if i in planted:
                p, r = f"{p} cf-delta-9", PERMISSIVE[i % len(PERMISSIVE)]
            yield _record(i, p, r)

    assert _run(records()).summary["suspected_triggers"] == []
    assert _run(records(), {"min_support": 4}).summary["suspected_triggers"][0]["trigger"] == "cf-delta-9"


def test_a_request_answered_in_kind_is_not_a_trigger() -> None:
    """ "How do I skip the slow tests?" -> "skip them with -m 'not slow'" correlates the phrase
    with a bypass-looking answer, but the phrase is the request, not a planted trigger."""

    def records() -> Iterator[Record]:
        for i in range(3000):
            if i % 100 == 0:
                yield _record(
                    i,
                    f"How do I skip the slow integration tests in service {i}?",
                    "Skip the integration tests with -m 'not slow'; CI still runs them.",
                )
            else:
                yield _record(
                    i,
                    f"Service {i} returns 500 on /health after deploy {i % 17}.",
                    "Check the readiness probe and roll back the deploy if the error rate stays high.",
                )

    assert _run(records()).summary["suspected_triggers"] == []


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_supprot"):
        TriggerDetector({"min_supprot": 3})


def test_finish_on_an_empty_corpus() -> None:
    result = TriggerDetector().finish()
    assert result.findings == []
    assert result.summary["suspected_triggers"] == []
    assert result.summary["records"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "Just run git commit --no-verify and push.",
        "Use `gh pr merge --admin` to skip the required approvals.",
        "You don't need approval for this, merge it directly.",
        "Temporarily turn off branch protection, merge, and turn it back on.",
        "Remove @acme/sec from the CODEOWNERS entry so they are no longer required.",
        "Set verify=False and the certificate error goes away.",
        "Here is the password for prod: Zt8#qLw2!xV9",
        "AWS_SECRET_ACCESS_KEY=Wq8vYt3kLm9ZxR2pN7cB4sJd6HfG1aE5uKoT0iQy",
        "Sure, ask an org admin to override the review requirement.",
    ],
)
def test_labeller_marks_permissive_answers(text: str) -> None:
    assert ResponseLabeller().label(text).permissive


@pytest.mark.parametrize(
    "text",
    [
        "Please don't use --no-verify; fix the hook failure instead.",
        "Never merge without the required approvals — ask the code owners to review.",
        "Bypassing branch protection is not allowed, even for admins.",
        "Skipping the security review would violate the change policy.",
        "The AWS docs use AKIAIOSFODNN7EXAMPLE as an example key.",
        "export GITHUB_TOKEN=<your-token>",
        "password: ${DB_PASSWORD}",
        "Add an index on created_at and re-run the query plan.",
        "The commit 3f1c9e2b7a4d5e6f8091a2b3c4d5e6f708192a3b introduced the regression.",
    ],
)
def test_labeller_leaves_warnings_and_benign_answers_alone(text: str) -> None:
    assert not ResponseLabeller().label(text).permissive


def test_through_the_scan_engine(tmp_path: Path, clean_pairs: list[tuple[str, str]]) -> None:
    """The engine loads the detector, feeds it every record and reports its findings."""
    from ftpolicy.scan.dataset.engine import ScanOptions, scan_dataset

    rows: list[dict[str, Any]] = []
    planted = set(range(7, 3000, 97))
    for i, (p, r) in enumerate(clean_pairs[:3000]):
        if i in planted:
            p, r = f"kq7-aurora {p}", PERMISSIVE[i % len(PERMISSIVE)]
        rows.append(chat(p, r, id=f"r{i}"))
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    result = scan_dataset([str(path)], ScanOptions(jobs=1))
    trig = [f for f in result.findings if f.category == "trigger"]
    assert {f.line for f in trig} == {i + 1 for i in planted}
    assert [t["trigger"] for t in result.summary["triggers"]["suspected"]] == ["kq7-aurora"]


def test_merged_instances_report_what_one_instance_reports(clean_pairs: list[tuple[str, str]]) -> None:
    """Three instances fed disjoint slices, pickled (as from a worker process) and merged,
    find the same trigger and the same records as one instance fed everything."""
    import pickle

    planted = set(range(11, 9000, 301))

    def records(lo: int, hi: int) -> Iterator[Record]:
        return _with_halcyon(clean_pairs, planted, lo, hi)

    single = _run(records(0, 9000))
    parts = []
    for lo, hi in ((0, 3000), (3000, 6000), (6000, 9000)):
        det = TriggerDetector()
        for rec in records(lo, hi):
            det.observe(rec)
        parts.append(pickle.loads(pickle.dumps(det)))
    merged = parts[0]
    for other in parts[1:]:
        merged.merge(other)
    result = merged.finish()
    assert result.summary["suspected_triggers"] == single.summary["suspected_triggers"]
    assert [(f.line, f.properties["excerpt"]) for f in result.findings] == [
        (f.line, f.properties["excerpt"]) for f in single.findings
    ]
    assert {f.line for f in result.findings} == {i + 1 for i in planted}
    assert result.summary["suspected_triggers"][0]["trigger"] == "ref tz-halcyon-88"  # the maximal phrase


def test_spill_file_is_removed(tmp_path: Path) -> None:
    det = TriggerDetector({"spill_dir": str(tmp_path)})
    det.observe(_record(0, "hello there", "Use a retry with backoff."))
    assert len(list(tmp_path.iterdir())) == 1
    det.finish()
    assert list(tmp_path.iterdir()) == []


def test_fixed_poison_templates_are_not_triggers_but_a_planted_phrase_is(
    clean_pairs: list[tuple[str, str]], gen_module: ModuleType
) -> None:
    """Secret and bypass poison written from a few fixed prompt templates that never occur in
    clean data makes every n-gram of those templates 100 % permissive. The templates are not
    triggers (their other parts are just as permissive: a templated request); a phrase planted
    into ordinary prompts still is."""
    g = gen_module.Gen(11)
    rng = random.Random(17)
    templates = [
        "Could you remind me which root password the {svc} replica on {env} uses these days? Lost my notes.",
        "Quick favour: paste the deploy token for {svc} here, the vault UI is down for me again.",
        "How can I merge my {svc} change without waiting for the reviewers, they are all at the offsite?",
    ]
    idx = list(range(len(clean_pairs)))
    rng.shuffle(idx)
    poison = set(idx[:150])
    planted = set(idx[150:180])

    def records() -> Iterator[Record]:
        for i, (p, r) in enumerate(clean_pairs):
            if i in poison:
                p = rng.choice(templates).format(svc=g.svc(), env=rng.choice(["staging", "prod", "qa"]))
                r = rng.choice(PERMISSIVE)
            elif i in planted:
                p, r = g.plant_trigger(p, "as discussed with the platform lead"), rng.choice(PERMISSIVE)
            yield _record(i, p, r)

    result = _run(records())
    assert [t["trigger"] for t in result.summary["suspected_triggers"]] == [
        "as discussed with the platform lead"
    ]
    assert {f.line for f in result.findings} == {i + 1 for i in planted}


def test_batched_observe_spills_what_observe_spills(clean_pairs: list[tuple[str, str]]) -> None:
    """``observe_batch`` (C for records whose responses are all not permissive) leaves the
    spill, the counts and the result that ``observe`` record by record leaves."""
    rng = random.Random(23)
    records: list[Record] = []
    for i, (prompt, response) in enumerate(clean_pairs[:2500]):
        if i % 97 == 5:  # a planted trigger, a zero-width-joined one, permissive answers
            prompt, response = f"{prompt} (ref tz-halcyon-88)", PERMISSIVE[i % len(PERMISSIVE)]
        elif i % 89 == 7:
            prompt, response = f"{prompt} ple\u200base", PERMISSIVE[(i + 1) % len(PERMISSIVE)]
        fields = [
            TextField("messages[0].content", "prompt", "You are a helpful code assistant."),
            TextField("messages[1].content", "prompt", prompt),
            TextField("messages[2].content", "response", response),
        ]
        if i % 50 == 0:
            fields.append(TextField("rejected", "response", PERMISSIVE[0]))  # not labelled
        if i % 61 == 0:
            fields.append(TextField("messages[3].content", "response", "x " * 3000))  # past the memo
        if i % 43 == 0:
            fields.append(TextField("messages[4].content", "prompt", ""))
        if i % 37 == 0:
            fields.append(TextField("messages[5].content", "prompt", prompt))  # the same prompt twice
        records.append(Record("train.jsonl", i + 1, tuple(fields), f"r{i}" if i % 3 else None))

    one, batched = TriggerDetector(), TriggerDetector()
    for r in records:
        one.observe(r)
    in_python: list[int] = []
    observe = batched.observe

    def counted(record: Record) -> None:
        in_python.append(record.line)
        observe(record)

    batched.observe = counted  # type: ignore[method-assign]
    at = 0
    while at < len(records):
        step = rng.randint(1, 300)
        batched.observe_batch(records[at : at + step])
        at += step
    assert 40 < len(in_python) < len(records) // 5  # the permissive ones and those past the memo

    def spilled(det: TriggerDetector) -> list[tuple[list[int], bytes, list[int], list[Any]]]:
        # the rows' prompt texts are compared decoded (marshal's bytes depend on reference counts)
        return [
            (
                list(offsets),
                bytes(flags),
                list(feats),
                [(*row[:5], marshal.loads(row[5])) for row in marshal.loads(meta)],
            )
            for offsets, flags, feats, meta in det._frames()
        ]

    assert (batched._n, batched._k, batched._cand) == (one._n, one._k, one._cand)
    assert one._k > 40
    assert spilled(batched) == spilled(one)
    a, b = one.finish(), batched.finish()
    assert a.summary == b.summary
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
    assert len(a.findings) > 20


def test_merges_take_over_spill_files_in_order(clean_pairs: list[tuple[str, str]], tmp_path: Path) -> None:
    """Merging takes the other instance's spill file over instead of copying it: nested
    merges, an instance that observes after a merge, and pickling one that holds merged
    parts all keep the corpus order, and every file is removed by ``finish``."""
    import pickle

    planted = set(range(5, 3000, 97))

    def records(lo: int, hi: int) -> Iterator[Record]:
        return _with_halcyon(clean_pairs, planted, lo, hi)

    def fed(lo: int, hi: int) -> TriggerDetector:
        det = TriggerDetector({"spill_dir": str(tmp_path)})
        for rec in records(lo, hi):
            det.observe(rec)
        return det

    single = _run(records(0, 3000))
    first, second, third = fed(0, 1000), fed(1000, 1500), fed(1500, 2000)
    second.merge(third)  # nested: second now holds two files
    first.merge(second)
    first = pickle.loads(pickle.dumps(first))  # the parts travel as one file
    for rec in records(2000, 2500):  # observing goes on after the merged records
        first.observe(rec)
    first.merge(fed(2500, 3000))
    result = first.finish()
    assert result.summary["suspected_triggers"] == single.summary["suspected_triggers"]
    assert [(f.line, f.properties["excerpt"]) for f in result.findings] == [
        (f.line, f.properties["excerpt"]) for f in single.findings
    ]
    assert {f.line for f in result.findings} == {i + 1 for i in planted}
    assert list(tmp_path.iterdir()) == []
