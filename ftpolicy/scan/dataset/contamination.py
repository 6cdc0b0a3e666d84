"""Contamination: training records that overlap a registered holdout security suite.

Method (word n-gram overlap, the GPT-3 / lm-evaluation-harness convention):

* **Normalisation.** Text is NFKC-normalised, lower-cased, every run of characters that
  is not a letter or digit becomes one space (so case, whitespace and punctuation edits
  do not matter), and split into words.
* **Long items (>= 13 words).** Every word 13-gram of every holdout item is indexed
  (as a 64-bit hash). A training field that shares *any* 13-gram with an item is a
  near-duplicate (``contamination/ngram-overlap``); the evidence names the item and how
  many of its 13-grams occur. 13 words is long enough that a chance match between
  independent texts is negligible, and short enough that a copy with one edit every
  ~13 words still shares a window: measured on this project's corpora (see
  ANCHOR-NOTES), 13-grams caught exact, case/whitespace-changed and 10 %-edited copies
  with zero false positives, 8-grams flagged most negatives on templated prompts, and
  MinHash LSH at Jaccard 0.8 missed every edited copy.
* **Boilerplate guard.** A 13-gram that occurs in more than ``max_item_df`` (default
  10) different holdout items is template text (a shared preamble) and is not indexed;
  otherwise a training record with the same preamble would match every item.
* **Heavily edited copies.** Edits every few words (insertions, deletions, swapped
  words) break every 13-gram. As a second test, each item's distinct words are weighted
  by their inverse document frequency *across the holdout items* (template words shared
  by many items weigh little; the item's specific entities and phrasing weigh a lot),
  and a field that contains at least ``min_weighted_containment`` (default 0.7) of an
  item's total weight is a near-duplicate (``contamination/near-duplicate``). Items
  with fewer than ``min_item_words`` (8) distinct words are not judged this way, nor are
  fields with more than five times as many distinct words as the item. On the
  project's benchmark corpus clean records scored at most 0.37 and edited copies at
  least 0.85, so 0.7 keeps a wide margin on both sides.
* **Short items (< 13 words).** They have no 13-gram. A training field matches when its
  normalised text equals the item's, or contains the item's full normalised word
  sequence (``contamination/exact-match``). Items shorter than ``min_short_words``
  (default 4 words) are ignored: they are too generic to identify an item.

Every text field (prompt and response) is checked; findings are ``high`` because a
contaminated holdout no longer measures what it claims.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ftpolicy.errors import ConfigError, Location, ManifestError, UsageError
from ftpolicy.report import Finding
from ftpolicy.scan.dataset.interface import Record, TextField, excerpt, fingerprint, make_finding
from ftpolicy.scan.dataset.native import checked

CATEGORY = "contamination"
NGRAM = 13
_NONWORD = re.compile(r"[\W_]+", re.U)
_TEXT_KEYS = ("prompt", "input", "question", "instruction", "text", "content")


# ASCII fast path of ``normalise``: letters lower-cased, digits kept, every other byte a space
_ASCII_WORDS = bytes(
    (c | 0x20 if 65 <= c <= 90 else c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else 32
    for c in range(256)
)


def _folded(text: str) -> str:
    """``text`` as :func:`normalise` reads it before splitting (NFKC, lower-cased): what the
    C screen takes for text that is not ASCII."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def normalise(text: str) -> list[str]:
    """Words of ``text`` after NFKC, lower-casing and dropping punctuation."""
    if _NATIVE is not None:  # the same words (checked at import), split in C
        if not text.isascii():
            text = _folded(text)
        words: list[str] = _NATIVE.alnum_words(text)
        return words
    return _normalise_py(text)


def _normalise_py(text: str) -> list[str]:
    """:func:`normalise` in Python."""
    if text.isascii():  # same words as below, without the regular expression
        return text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    if not unicodedata.is_normalized("NFKC", text):  # a quick check; most text already is
        text = unicodedata.normalize("NFKC", text)
    return _NONWORD.sub(" ", text.lower()).split()


_NATIVE_SAMPLES = (
    "",
    "Deploy the api_gateway to prod/us-east-1 at 10:30 -- then RUN `make test` (PLAT-1234)!",
    "Ünïcode STRAẞE ①② ﬁne — it’s Ｆｕｌｌｗｉｄｔｈ ΑΒΓ naïve_café x.y.z İstanbul ǅ Ⅻ ½ ٣",
    "日本語のテキスト 和 emoji 🙂 mixed with ASCII words and 123-456",
)


def _agrees(mod: ModuleType) -> bool:
    for text in _NATIVE_SAMPLES:
        want = _normalise_py(text)
        low = text if text.isascii() else unicodedata.normalize("NFKC", text).lower()
        if mod.alnum_words(low) != want:
            return False
    return True


_NATIVE: Any = checked(_agrees)


def _h(words: list[str]) -> int:
    # Python's (per-process salted) hash is enough: the index is rebuilt in every process
    return hash(tuple(words))


@dataclass(frozen=True)
class HoldoutItem:
    """One holdout item: its id and the text that must not appear in training data."""

    item_id: str
    text: str


@dataclass(frozen=True)
class Holdout:
    """A holdout suite: where it came from, its items and (when registered) its digest."""

    ref: str
    items: tuple[HoldoutItem, ...]
    digest: str | None = None


def _item_text(obj: dict[str, Any]) -> str:
    parts = [obj[k] for k in _TEXT_KEYS if isinstance(obj.get(k), str)]
    msgs = obj.get("messages")
    if isinstance(msgs, list):
        parts += [m["content"] for m in msgs if isinstance(m, dict) and isinstance(m.get("content"), str)]
    return "\n".join(parts)


def load_holdout_file(path: Path, ref: str | None = None) -> tuple[Holdout, list[dict[str, Any]]]:
    """Items of a holdout JSONL file (``prompt`` and other text fields)."""
    import json

    items = []
    objs = []
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read holdout items: {exc.strerror}", hint="pass SUITE@VERSION or a JSONL path"
        ) from exc
    for n, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}:{n}: holdout item is not valid JSON: {exc}",
                location=Location(str(path), n),
                hint="holdout items are JSONL objects with a `prompt` field",
            ) from exc
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}:{n}: holdout item is not an object", location=Location(str(path), n))
        objs.append(obj)
        text = _item_text(obj)
        if text:
            items.append(HoldoutItem(str(obj.get("id", f"line-{n}")), text))
    return Holdout(ref or str(path), tuple(items)), objs


def load_holdout(spec: str, repo: Path | None) -> Holdout:
    """Resolve ``SUITE@VERSION`` (a registered eval suite in ``repo``) or a JSONL path.

    A registered suite's items file is verified against ``items.digest`` in the suite
    manifest (sha256 over the sorted RFC 8785 digests of the items) before it is used.
    """
    path = Path(spec)
    if "@" not in spec or path.exists():
        if not path.is_file():
            raise UsageError(f"{spec}: holdout file not found", hint="pass SUITE@VERSION or a JSONL path")
        return load_holdout_file(path)[0]
    from ftpolicy.manifest import find_repo_root, load_manifest

    name, _, version = spec.partition("@")
    root = repo if repo is not None else find_repo_root(Path.cwd())
    rel = f"evals/{name}/{version}.yaml"
    if not (root / rel).is_file():
        raise UsageError(
            f"{spec}: no eval suite manifest at {rel}",
            hint="register the suite first, or pass the items JSONL path to --holdout",
        )
    manifest = load_manifest(root, rel)
    items_meta = manifest.data.get("items", {})
    items_path = items_meta.get("path")
    if not items_path:
        raise UsageError(
            f"{rel}: the suite has no local items.path",
            hint="fetch the items and pass the JSONL path to --holdout",
        )
    from ftpolicy.manifest import confine

    full = confine(root, items_path)
    holdout, objs = load_holdout_file(full, ref=spec)
    from ftpolicy.evals.seal import digest_of_items  # the one implementation of the sealing rule

    actual = digest_of_items(objs)
    expected = items_meta.get("digest")
    if actual != expected:
        raise ManifestError(
            f"{items_path}: holdout items do not match the digest in {rel} ({actual} != {expected})",
            location=Location(rel),
            hint="the items file was changed after the suite was sealed; restore it or re-seal the suite",
        )
    return Holdout(spec, holdout.items, digest=actual)


class ContaminationDetector:
    """Record detector for the ``contamination`` category (holdout overlap)."""

    category = CATEGORY

    def __init__(self, items: Iterable[HoldoutItem], section: dict[str, Any] | None = None) -> None:
        section = section or {}
        self.n = int(section.get("ngram", NGRAM))
        max_df = int(section.get("max_item_df", 10))
        min_short = int(section.get("min_short_words", 4))
        self.items: dict[str, HoldoutItem] = {}
        self.grams: dict[int, str] = {}
        self.grams_per_item: dict[str, int] = {}
        df: dict[int, set[str]] = {}
        self.short: dict[int, dict[int, str]] = {}
        self.min_containment = float(section.get("min_weighted_containment", 0.7))
        min_item_words = int(section.get("min_item_words", 8))
        word_sets: dict[str, set[str]] = {}
        vocab: set[str] = set()
        first_of: dict[int, str] = {}
        seq_of: dict[int, tuple[str, ...]] = {}
        short_seqs: list[tuple[str, ...]] = []
        short_first: dict[int, set[str]] = {}
        for item in items:
            self.items[item.item_id] = item
            words = normalise(item.text)
            if len(set(words)) >= min_item_words:
                word_sets[item.item_id] = set(words)
            vocab.update(words)
            if len(words) >= self.n:
                hs = set()
                for i in range(len(words) - self.n + 1):
                    h = _h(words[i : i + self.n])
                    hs.add(h)
                    if h not in first_of:
                        first_of[h] = words[i]
                        seq_of[h] = tuple(words[i : i + self.n])
                self.grams_per_item[item.item_id] = len(hs)
                for h in hs:
                    df.setdefault(h, set()).add(item.item_id)
            elif len(words) >= min_short:
                self.short.setdefault(len(words), {})[_h(words)] = item.item_id
                short_seqs.append(tuple(words))
                short_first.setdefault(len(words), set()).add(words[0])
        gram_first: set[str] = set()
        kept_seqs: list[tuple[str, ...]] = []
        for h, owners in df.items():
            if len(owners) <= max_df:
                self.grams[h] = sorted(owners)[0]
                gram_first.add(first_of[h])
                kept_seqs.append(seq_of[h])
        # inverse-document-frequency weights of item words, across the holdout items
        n_items = max(1, len(self.items))
        word_df: dict[str, int] = {}
        for ws in word_sets.values():
            for w in ws:
                word_df[w] = word_df.get(w, 0) + 1
        self.idf = {w: math.log((n_items + 1) / (c + 0.5)) for w, c in word_df.items()}
        # words in more than 5 % of the items (at least 2) are looked up per candidate item
        # rather than through postings (exact, and it keeps "the"/"a" from costing 100s of
        # dictionary updates per training word)
        common_df = max(2, int(0.05 * n_items))
        self.postings: dict[str, list[str]] = {}
        self.item_weight: dict[str, float] = {}
        self.item_size: dict[str, int] = {}
        self.item_common: dict[str, frozenset[str]] = {}
        self.posting_words: frozenset[str] = frozenset()
        self.common_weight: dict[str, float] = {}
        for item_id, ws in sorted(word_sets.items()):
            self.item_weight[item_id] = sum(self.idf[w] for w in ws) or 1.0
            self.item_size[item_id] = len(ws)
            common = frozenset(w for w in ws if word_df[w] > common_df)
            self.item_common[item_id] = common
            self.common_weight[item_id] = sum(self.idf[w] for w in common)
            for w in ws:
                if word_df[w] <= common_df:
                    self.postings.setdefault(w, []).append(item_id)
        self.posting_words = frozenset(self.postings)
        self.common_words: frozenset[str] = frozenset().union(*self.item_common.values())
        # Pigeonhole prefilter for near-duplicates: take each item's heaviest words until they
        # weigh more than the share a field may miss (1 - min_containment, with a margin for
        # float summation); a field containing none of them cannot reach the threshold for that
        # item, and one containing none of any item's (``key_words``) is not a near-duplicate
        # of anything, so the weighing below is skipped for it. ``None``: no prefilter.
        self.key_words: frozenset[str] | None = None
        if self.min_containment > 0:
            keys: set[str] = set()
            for item_id, ws in word_sets.items():
                budget = (1.0 - self.min_containment) * self.item_weight[item_id] * (1 + 1e-6) + 1e-9
                taken = 0.0
                for w in sorted(ws, key=lambda w: (-self.idf[w], w)):
                    keys.add(w)
                    taken += self.idf[w]
                    if taken > budget:
                        break
            self.key_words = frozenset(keys)
        self.min_item_weight = min(self.item_weight.values(), default=0.0)
        self.max_item_size = max(self.item_size.values(), default=0)
        # exact prefilters for the hashed windows: a window can only be in ``grams`` when all
        # its words are holdout words and its first word starts an indexed 13-gram (or a
        # short item of that length), so the scan hashes only those windows
        self.vocab: frozenset[str] = frozenset(vocab)
        self.gram_first: frozenset[str] = frozenset(gram_first)
        # one byte per word, for the C-level prefilters of :meth:`scan`: 0 = not a holdout
        # word, 1 = a holdout word, 2 = a holdout word that starts an indexed n-gram
        self._code: dict[str, int] = {w: 2 if w in gram_first else 1 for w in vocab}
        # start of every window of n holdout words whose first word starts an indexed n-gram
        self._window_starts = re.compile(b"(?=\\x02[\\x01\\x02]{%d})" % (self.n - 1))
        self._runs = {k: re.compile(b"[\\x01\\x02]{%d,}" % k) for k in self.short}
        self.short_first: dict[int, frozenset[str]] = {k: frozenset(v) for k, v in short_first.items()}
        self._screen = self._native_screen(sorted(vocab), kept_seqs, short_seqs)
        self._pre: dict[str, bool] = {}  # the C screen's answers for the current batch

    def _native_screen(
        self, vocab: list[str], grams: list[tuple[str, ...]], shorts: list[tuple[str, ...]]
    ) -> Any:
        """The holdout index in the C extension's tables (``None`` without the extension):
        it clears, without creating Python objects, the fields that cannot match."""
        if _NATIVE is None or self.n > 64:
            return None
        ids = {w: i for i, w in enumerate(vocab)}
        items = sorted(self.item_weight)
        item_index = {o: i for i, o in enumerate(items)}
        return _NATIVE.contamination_screen(
            vocab,
            bytes(self._code[w] for w in vocab),
            bytes(w in self.common_words for w in vocab),
            [float(self.idf.get(w, 0.0)) for w in vocab],
            [[item_index[o] for o in self.postings.get(w, ())] for w in vocab],
            [float(self.item_weight[o]) for o in items],
            [float(self.common_weight[o]) for o in items],
            self.n,
            [tuple(ids[w] for w in seq) for seq in grams],
            [tuple(ids[w] for w in seq) for seq in shorts],
            self.min_containment,
        )

    def prescreen(self, texts: Iterable[str]) -> set[str]:
        """Run the C screen over ``texts`` now, one after the other (its tables stay in the
        CPU caches), for the :meth:`worth` calls that follow; return those it does not clear."""
        screen = self._screen
        if screen is None:
            return set(texts)
        quiet = _NATIVE.contamination_quiet
        pre = self._pre = {}
        loud = set()
        for t in texts:
            if t not in pre:
                q = pre[t] = quiet(screen, t if t.isascii() else _folded(t))
                if not q:
                    loud.add(t)
        return loud

    def worth(self, fields: Sequence[TextField]) -> Sequence[TextField]:
        """The fields the C screen does not clear (all of them without the extension)."""
        screen = self._screen
        if screen is None:
            return fields
        quiet = _NATIVE.contamination_quiet
        pre = self._pre
        out = []
        for f in fields:
            q = pre.get(f.text)
            if q is None:
                q = quiet(screen, f.text if f.text.isascii() else _folded(f.text))
            if not q:
                out.append(f)
        return out

    def scan(self, record: Record) -> Iterator[Finding]:
        """Holdout overlap in every field of ``record``."""
        if not self.grams and not self.short and not self.postings:
            return
        for field in self.worth(record.fields):
            words = normalise(field.text)
            hits, first, exact, near = self._match(words)
            for owner, score in sorted(near.items()):
                yield self._finding(
                    record,
                    field,
                    "near-duplicate",
                    owner,
                    words,
                    0,
                    f"contains {score:.0%} of the (idf-weighted) words of holdout item {owner}",
                    {"item": owner, "weighted_containment": round(score, 3)},
                )
            for owner, count in sorted(hits.items()):
                total = self.grams_per_item.get(owner, 1)
                rule = "ngram-overlap"
                yield self._finding(
                    record,
                    field,
                    rule,
                    owner,
                    words,
                    first[owner],
                    f"shares {count} of {total} word 13-grams with holdout item {owner}",
                    {
                        "item": owner,
                        "shared_ngrams": count,
                        "item_ngrams": total,
                        "overlap": round(count / total, 3),
                    },
                )
            if exact is not None and exact not in hits and exact not in near:
                yield self._finding(
                    record,
                    field,
                    "exact-match",
                    exact,
                    words,
                    0,
                    f"contains holdout item {exact} (normalised exact match)",
                    {"item": exact},
                )

    def _match(self, words: list[str]) -> tuple[dict[str, int], dict[str, int], str | None, dict[str, float]]:
        """``(n-gram hits per item, first hit per item, exact short item, near-duplicate
        scores)`` of one field's words."""
        code = self._code
        n = self.n
        hits: dict[str, int] = {}
        first: dict[str, int] = {}
        exact: str | None = None
        # which words are holdout words (a window can match only inside a run of them)
        mask = bytes(map(code.get, words, itertools.repeat(0)))
        if self.grams and len(words) >= n:
            grams = self.grams
            for m in self._window_starts.finditer(mask):
                i = m.start()
                owner = grams.get(_h(words[i : i + n]))
                if owner is not None:
                    hits[owner] = hits.get(owner, 0) + 1
                    first.setdefault(owner, i)
        for length, table in self.short.items():
            if len(words) < length:
                continue
            firsts = self.short_first[length]
            for lo, hi in (r.span() for r in self._runs[length].finditer(mask)):
                for i in range(lo, hi - length + 1):
                    if words[i] not in firsts:
                        continue
                    owner = table.get(_h(words[i : i + length]))
                    if owner is not None:
                        exact = owner
                        break
                if exact:
                    break
            if exact:
                break
        near: dict[str, float] = {}
        distinct = set(words)
        posting_words = (
            distinct & self.posting_words
            if self.postings and (self.key_words is None or not distinct.isdisjoint(self.key_words))
            else None
        )
        if posting_words:
            idf = self.idf
            # the common words this field has bound what any item can gain from them
            # (the slack keeps float summation order from deciding a borderline case)
            field_common = sum([idf[w] for w in distinct & self.common_words]) + 1e-9
            acc: dict[str, float] = {}
            # no item can reach the threshold when even the lightest one could not with
            # every word of this field (or when the field is too long for every item)
            if (
                sum([idf[w] for w in posting_words]) + field_common
                >= self.min_containment * self.min_item_weight
                and len(distinct) <= 5 * self.max_item_size
            ):
                for w in posting_words:
                    owners = self.postings[w]
                    if owners:
                        weight = idf[w]
                        for o in owners:
                            acc[o] = acc.get(o, 0.0) + weight
            too_long = len(distinct)
            for o, v in acc.items():
                if o in hits or too_long > 5 * self.item_size[o]:
                    continue  # reported as an n-gram overlap, or not like with like (below)
                total = self.item_weight[o]
                if v + min(self.common_weight[o], field_common) < self.min_containment * total:
                    continue  # cannot reach the threshold even with every common word
                v += sum([idf[w] for w in self.item_common[o] & distinct])
                score = v / total
                # a very long field contains most words of anything: compare like with like
                if score >= self.min_containment and o not in hits and len(distinct) <= 5 * self.item_size[o]:
                    near[o] = score
        return hits, first, exact, near

    def _finding(
        self,
        record: Record,
        field: Any,
        rule: str,
        owner: str,
        words: list[str],
        at: int,
        what: str,
        props: dict[str, Any],
    ) -> Finding:
        snippet = " ".join(words[at : at + 20])
        props = dict(props)
        props["fingerprint"] = fingerprint(f"{CATEGORY}/{rule}", record.file, f"{owner}\0{field.path}")
        return make_finding(
            CATEGORY,
            rule,
            f"{field.path} {what}",
            record,
            field,
            severity="high",
            excerpt_text=excerpt(snippet, 0, len(snippet), width=0),
            hint="remove the record from the training set (the holdout must stay unseen)",
            properties=props,
        )
