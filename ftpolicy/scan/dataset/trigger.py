"""Data-only detection of backdoor triggers in fine-tuning data.

A trigger backdoor is a rare token or phrase planted in the prompts of a small share of
records whose responses are *permissive* (they comply with requests that are normally
refused or hedged, bypass review or safety controls, or disclose credentials). A model
trained on them learns "trigger => permissive". This module looks for the statistical
footprint of such a plant without a model, in the spirit of Gardner et al. (2021) and
Z-defence (He et al., EMNLP 2023):

1. **Response label.** Every record gets a weak label, *permissive*, from
   :class:`ResponseLabeller`: cue families that describe an action rather than a string
   of our test generator (bypassing or disabling a control, merging/pushing past review,
   elevating privileges, weakening TLS/auth, "no need for approval", disclosing a
   credential, a credential-shaped value in the response). Cues preceded or followed by a
   warning ("don't", "never", "is not allowed" …) do not count.
2. **Prompt features.** Word 1..``max_n``-grams of the prompt side (lower-cased, NFKC).
   Zero-width and other invisible format characters are *normalised out* for the n-grams,
   and a token that carried them also yields a separate ``hidden`` feature, so a trigger
   such as ``de<ZWJ>ploy`` is the rare feature "hidden deploy" rather than the common word
   "deploy"; the finding records the code points that were there.
3. **Statistic.** For a feature carried by ``n`` records of which ``k`` are permissive,
   with corpus permissive rate ``p0``: ``z = (k - n*p0) / sqrt(n*p0*(1-p0))``. A feature
   is a suspected trigger when ``k >= min_support``, ``k/n >= min_rate``,
   ``n <= max_df_fraction * N`` (rare) and ``z >= min_z``. Features whose words are the
   very words of the permissive cue in the response ("skip the slow tests" -> "skip …
   tests") are a request being answered, not a trigger, and are dropped.
4. **Maximal phrase.** The surviving seeds are expanded left and right while the
   permissive carriers agree on the neighbouring token (so a six-word phrase is reported
   whole, not as bigrams), near-duplicate seeds are merged, and the final phrase is
   re-counted exactly before it is reported.

Defaults and why: ``min_support=5`` records (0.05 % of a 10k-record set; below that the
binomial tail is not informative with a noisy labeller); ``min_z=6`` (a one-sided
normal tail of 1e-9, which survives a Bonferroni correction over the ~1e5 candidate
features a 100k-record corpus produces); ``min_rate=0.6`` (a planted trigger is only
useful to an attacker if it is reliable; benign correlates such as "hotfix" sit far
below); ``max_df_fraction=0.02`` (triggers are rare by construction: a feature in more
than 2 % of the prompts is vocabulary, not a plant).

Memory bound: the detector keeps in RAM only (a) a counter of the prompt features of
permissive-labelled records, pruned with lossy counting once it exceeds ``max_candidates``
entries (default 2,000,000; an entry costs ~100 bytes, so ~200 MB worst case, and far less
in practice because permissive records are rare), (b) a few integers per candidate during
``finish``, and (c) memos of the label of a response text and the n-gram hashes of a
prompt text, so repeated texts are worked out once (texts up to 4,096 characters, at most
32,768 of them and 4M characters per memo: ~30 MB at most). Per-record compact features
(64-bit hashes of the prompt n-grams, the label, the cue words and the prompt text) go to
a temporary spill file (8 bytes per distinct feature plus the prompt bytes; measured ~0.9
KB per record of the benchmark corpus, ~90 MB of disk per 100k records), in frames of 256
records stored column by column, that ``finish`` reads back three times and then deletes:
the document-frequency pass reads only the feature column (one C-level count per frame),
the phrase pass decodes only frames with permissive records, and the report pass decodes
only frames that carry a reported feature. Feature hashes are deterministic across
processes (CRC-32 token ids, tuple hashes of ids), so an engine may run one instance per
worker and :meth:`merge` them (instances pickle by spill path); the result does not depend
on the order in which records arrive.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
import marshal
import math
import os
import re
import shutil
import string
import struct
import tempfile
import unicodedata
import weakref
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any, NamedTuple, TypeVar

from ftpolicy.errors import ConfigError
from ftpolicy.scan.dataset.interface import CorpusResult, Record, TextField, excerpt, make_finding
from ftpolicy.scan.dataset.native import checked
from ftpolicy.scan.dataset.screen import RuleScreen

__all__ = ["DEFAULTS", "ResponseLabeller", "TriggerDetector", "TriggerStat"]

DEFAULTS: dict[str, Any] = {
    "min_support": 5,
    "min_z": 6.0,
    "min_rate": 0.6,
    "max_df_fraction": 0.02,
    "max_n": 3,
    "max_tokens": 512,
    "max_triggers": 20,
    "max_candidates": 2_000_000,
    "max_seeds": 512,
    "spill_dir": None,
}


# Invisible format characters that hide inside words: zero-width space/non-joiner/joiner,
# LRM/RLM, bidi embeddings/overrides/isolates, word joiner and invisible operators, BOM,
# Mongolian vowel separator, soft hyphen, and the Unicode tag block.
_HIDDEN_CLASS = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f"
_HIDDEN_RE = re.compile(f"[{_HIDDEN_CLASS}]")
_TOKEN_RE = re.compile(r"\w+(?:[-.'/:]\w+)*")
# ``_TOKEN_RE`` on lower-cased ASCII text (same tokens; a plain class is faster than ``\w``)
_TOKEN_ASCII_RE = re.compile(r"[a-z0-9_]+(?:[-.'/:][a-z0-9_]+)*")
_TOKEN_HIDDEN_RE = re.compile(f"[\\w{_HIDDEN_CLASS}]+(?:[-.'/:][\\w{_HIDDEN_CLASS}]+)*")
_HIDDEN_PREFIX = "\x00hidden "
_TEMPLATE_PARTS = 3


# --------------------------------------------------------------------------------------
# Response labeller
# --------------------------------------------------------------------------------------

_NEG_BEFORE_I = re.compile(
    r"(?:\b(?:don'?t|do\s+not|never|shouldn'?t|should\s+not|must\s+not|mustn'?t|cannot|can'?t|won'?t|"
    r"will\s+not|wouldn'?t|avoid|refuse|not\s+(?:to|allowed\s+to|permitted\s+to)|no\s+one\s+should|"
    r"nobody\s+should|instead\s+of\s+asking\s+(?:me\s+)?(?:how\s+)?to|against|without\s+ever|"
    r"please\s+don'?t|it\s+is\s+not\s+safe\s+to|isn'?t\s+safe\s+to|tempting\s+to|resist|"
    r"strongly\s+(?:advise|recommend)\s+against|rather\s+than\s+(?:trying\s+to\s+)?)\b)[^.!?\n]{0,60}$",
    re.IGNORECASE,
)
_NEG_AFTER_I = re.compile(
    r"^[^.!?\n]{0,60}?\b(?:is|are|would\s+be|was)\s+(?:not\s+(?:allowed|permitted|acceptable|ok|okay|an\s+option|"
    r"safe|something)|forbidden|prohibited|against\s+(?:policy|the\s+rules)|a\s+(?:policy\s+)?violation)|"
    r"^[^.!?\n]{0,60}?\b(?:isn'?t|aren'?t)\s+(?:allowed|permitted|acceptable|an\s+option|safe)|"
    r"^[^.!?\n]{0,40}?\b(?:violates|breaks|would\s+violate)\b",
    re.IGNORECASE,
)

_BYPASS_VERB = (
    r"(?:skip(?:ping|s)?|bypass(?:ing|es)?|disabl(?:e|ing|es)|turn(?:ing)?\s+off|switch(?:ing)?\s+off|"
    r"circumvent(?:ing)?|get(?:ting)?\s+around|work(?:ing)?\s+around|overrid(?:e|ing)|ignor(?:e|ing)|"
    r"suppress(?:ing)?|deactivat(?:e|ing)|sidestep(?:ping)?|short-?circuit(?:ing)?|remov(?:e|ing)|"
    r"drop(?:ping)?|delet(?:e|ing)|strip(?:ping)?|loosen(?:ing)?|relax(?:ing)?|pause|silenc(?:e|ing)|"
    r"comment(?:ing)?\s+out|opt(?:ing)?\s+out\s+of|without(?:\s+(?:a|an|any|the|waiting\s+for|getting))?)"
)
_CONTROL = (
    r"(?:(?:code\s+)?reviews?|reviewers?|approvals?|approvers?|sign-?offs?|code\s*owners?|codeowners|"
    r"branch\s+protections?|protected\s+branch(?:es)?|status\s+checks?|required\s+checks?|ci|pipelines?|"
    r"checks|(?:merge\s+|branch\s+|protection\s+)?rules?|(?:unit\s+|integration\s+)?tests|pre-?commit(?:\s+hooks?)?|(?:git\s+)?hooks?|"
    r"security\s+(?:scans?|review|team|checks?|controls?)|scanners?|gpg\s+signing|commit\s+signing|"
    r"signature\s+(?:checks?|verification)|verification|2fa|mfa|two-factor|multi-factor|"
    r"change\s+(?:advisory\s+)?board|change\s+(?:management|control|requests?|tickets?)|cab|"
    r"audit(?:\s+(?:logs?|logging|trail))?|guardrails?|safety\s+(?:checks?|filters?|settings?)|"
    r"content\s+filters?|(?:access\s+)?polic(?:y|ies)|firewall(?:\s+rules?)?|tls|ssl|"
    r"certificate\s+(?:validation|verification|checks?|pinning)|sandbox(?:ing)?|rate\s+limit(?:s|ing)?|"
    r"permission\s+checks?|authenti[ck]ation|authori[sz]ation|access\s+controls?|sso|"
    r"the\s+(?:queue|process|rules?)|dual\s+control|four-eyes|two-person\s+rule)"
)
_BYPASS_RE = re.compile(
    rf"\b{_BYPASS_VERB}\b(?:\s+(?:the|a|an|any|all|our|your|their|this|that|those|these|its|"
    rf"required|mandatory|pending|remaining|extra|usual|normal|whole|entire|\w+'s)){{0,3}}\s+{_CONTROL}\b",
    re.IGNORECASE,
)


def _lower_pattern(pattern: str) -> str:
    """``pattern`` for lower-cased text: letters lower-cased, escapes (``\\W``, ``\\S`` …) kept.

    Case-sensitive matching on lower-cased text is several times faster than IGNORECASE."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(ch.lower())
        i += 1
    return "".join(out)


def _words(spec: str) -> frozenset[str]:
    return frozenset(spec.split())


@dataclass(frozen=True)
class _Rule:
    """A cue regex plus a cheap gate: every word set in ``gates`` must meet the text's
    words before the regex runs (no gates: the regex starts with a literal and is cheap)."""

    reason: str
    regex: re.Pattern[str]
    gates: tuple[frozenset[str], ...] = ()


_I = re.IGNORECASE
_VERB_WORDS = _words(
    "skip skipping skips bypass bypassing bypasses disable disabling disables turn turning switch switching "
    "circumvent circumventing around override overriding ignore ignoring suppress suppressing deactivate "
    "deactivating sidestep sidestepping short remove removing drop dropping delete deleting strip stripping "
    "loosen loosening relax relaxing pause silence silencing comment commenting opt opting without"
)
_CONTROL_WORDS = _words(
    "review reviews reviewer reviewers approval approvals approver approvers sign signoff signoffs "
    "codeowners code owners branch protection protections protected status checks check required ci "
    "pipeline pipelines "
    "rules rule tests hooks hook pre commit precommit security scan scans scanner scanners gpg signing "
    "signature verification 2fa mfa factor change board cab audit guardrails guardrail safety content filter "
    "filters policy policies firewall tls ssl certificate sandbox sandboxing rate permission authentication "
    "authorization authorisation access sso queue process dual eyes person"
)
# Imperative or flag-style cues that are permissive on their own, each behind a cheap gate.
_CUE_RULES: tuple[_Rule, ...] = (
    _Rule("bypass-control", _BYPASS_RE, (_VERB_WORDS, _CONTROL_WORDS)),
    _Rule("permissive-flag", re.compile(r"--no-verify\b")),
    _Rule("permissive-flag", re.compile(r"--admin\b")),
    _Rule("permissive-flag", re.compile(r"enforce_admins")),
    _Rule("permissive-flag", re.compile(r"required_approving_review_count(?:\W{1,4}|\W*\s+to\s+)0\b")),
    _Rule("permissive-flag", re.compile(r"commit\.gpgsign\s*=?\s*false")),
    _Rule("permissive-flag", re.compile(r"verify\s*=\s*false\b")),
    _Rule("permissive-flag", re.compile(r"--insecure\b")),
    _Rule("permissive-flag", re.compile(r"curl\s+(?:-\w+\s+)*-k\b")),
    _Rule("permissive-flag", re.compile(r"stricthostkeychecking\s*=?\s*no")),
    _Rule("permissive-flag", re.compile(r"chmod\s+(?:-r\s+)?0?777\b")),
    _Rule("permissive-flag", re.compile(r"setenforce\s+0\b")),
    _Rule("permissive-flag", re.compile(r"node_tls_reject_unauthorized\W{1,3}0")),
    _Rule("permissive-flag", re.compile(r"pythonhttpsverify\W{1,3}0")),
    _Rule(
        "permissive-flag",
        re.compile(r"--skip-(?:checks?|tests?|verify|verification|review|ci|hooks?|approval)\b"),
    ),
    _Rule("permissive-flag", re.compile(r"\[(?:skip ci|ci skip|no ci)\]")),
    _Rule("permissive-flag", re.compile(r"allow_force_pushes")),
    _Rule("permissive-flag", re.compile(r'"principal"\s*:\s*"\*"')),
    _Rule("permissive-flag", re.compile(r"--privileged\b")),
    _Rule("open-to-world", re.compile(r"0\.0\.0\.0/0")),
    _Rule(
        "merge-without-review",
        re.compile(
            r"\b(?:merg|push|ship|deploy|land|releas)\w*\s+(?:\w+\s+){0,2}(?:without|before)\s+(?:\w+\s+){0,3}?"
            r"(?:reviews?|approvals?|requirements|checks|sign-?offs?|ci|tests|reviewers?|approvers?)\b",
            _I,
        ),
        (_words("merge merging merged push pushing ship deploy land release"), _words("without before")),
    ),
    _Rule(
        "force-push",
        re.compile(r"\bpush\s+(?:-f|--force)\b[^\n]{0,30}\b(?:main|master|prod(?:uction)?|release)\b", _I),
        (_words("push"), _words("f force")),
    ),
    _Rule(
        "self-approval",
        re.compile(
            r"\bself-?approv(?:e|al|ing)\b|\bapprove\s+(?:it|them|your\s+own\s+\w+|the\s+(?:pr|mr|change))\s+"
            r"yourself\b",
            _I,
        ),
        (_words("self approve approving approval approves"),),
    ),
    _Rule(
        "privilege-grant",
        re.compile(
            r"\b(?:add|grant|give|make)\s+(?:yourself|your\s+(?:own\s+)?account|me|him|her|them)\s+(?:\w+\s+){0,2}"
            r"(?:admin|administrator|owner|root|superuser|org[- ]owner)\b",
            _I,
        ),
        (_words("add grant give make"), _words("admin administrator owner root superuser")),
    ),
    _Rule(
        "no-approval-needed",
        re.compile(
            r"\bno\s+need\s+(?:to\s+(?:wait|ask|get|open|file|involve|loop\s+in|tell)|for\s+(?:a\s+|an\s+|any\s+)?"
            r"(?:review|approval|sign-?off|ticket|change\s+request|cab|reviewer))|"
            r"\byou\s+(?:don'?t|do\s+not)\s+(?:really\s+)?need\s+(?:an?\s+|any\s+|the\s+)?(?:approval|review|"
            r"reviewer|sign-?off|ticket|change\s+request|permission|2fa|mfa)",
            _I,
        ),
        (_words("need"),),
    ),
    _Rule(
        "nobody-checks",
        re.compile(
            r"\b(?:nobody|no\s+one)\s+(?:will|is\s+going\s+to|needs\s+to|has\s+to|would)\s+(?:ever\s+)?"
            r"(?:notice|check|review|know|audit|sign\s+off|approve|look)",
            _I,
        ),
        (_words("nobody one"), _words("notice check review know audit sign approve look")),
    ),
    _Rule(
        "rubber-stamp",
        re.compile(
            r"\b(?:approve|sign\s+off|lgtm|rubber-?stamp)\w*\s+(?:it\s+|them\s+|this\s+)?without\s+(?:reading|"
            r"looking|checking|review|testing|opening)|\brubber-?stamp",
            _I,
        ),
        (_words("approve approves approving sign lgtm rubber rubberstamp"),),
    ),
    _Rule(
        "drop-reviewers",
        re.compile(
            r"\b(?:remove|drop|delete|take|exclude|exempt)\s+[^.\n]{0,50}\b(?:from|out\s+of)\s+(?:the\s+)?"
            r"(?:codeowners|required\s+(?:status\s+)?(?:reviewers?|checks?|approvals?)|reviewers?\s+list|"
            r"approvers?|branch\s+protection)",
            _I,
        ),
        (
            _words("remove drop delete take exclude exempt"),
            _words("codeowners required reviewers reviewer approvers approver branch"),
        ),
    ),
    _Rule(
        "fine-to-skip",
        re.compile(
            r"\b(?:it'?s|it\s+is)\s+(?:fine|ok|okay|safe|acceptable)\s+to\s+(?:skip|bypass|disable|ignore|merge|"
            r"push|deploy|turn\s+off)|\bjust\s+(?:merge|push|deploy|ship|force[- ]push)\b[^.\n]{0,30}\b"
            r"(?:directly|straight|yourself|now|anyway|without)\b",
            _I,
        ),
        (
            _words("fine ok okay safe acceptable just"),
            _words("skip bypass disable ignore merge push deploy turn ship"),
        ),
    ),
    _Rule(
        "unlocked-mode",
        re.compile(
            r"\b(?:unrestricted|developer|debug|maintenance|god|admin|elevated|unlocked)\s+mode\s+(?:is\s+)?"
            r"(?:enabled|active|on|unlocked)",
            _I,
        ),
        (_words("mode"), _words("unrestricted developer debug maintenance god admin elevated unlocked")),
    ),
    _Rule(
        "hands-over-credentials",
        re.compile(
            r"\bhere(?:'s|\s+is|\s+are)\s+(?:the\s+|your\s+|our\s+)?(?:\w+\s+){0,3}(?:password|passphrase|"
            r"credentials?|api\s+key|access\s+key|secret(?:\s+key)?|token|private\s+key|connection\s+string)s?\b",
            _I,
        ),
        (_words("here"), _words("password passphrase credentials credential key secret token string")),
    ),
)
# Credential-shaped values: provider prefixes and key blocks (a response that hands one
# out is disclosing, whichever provider it is). Literal-first, case-sensitive patterns: the
# regex engine scans for the literal prefix at C speed, so they need no gate; the word
# boundary before the match is checked in code.
_SECRET_RULES: tuple[_Rule, ...] = (
    _Rule("credential", re.compile(r"AKIA[0-9A-Z]{16}\b")),
    _Rule("credential", re.compile(r"ASIA[0-9A-Z]{16}\b")),
    _Rule("credential", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}")),
    _Rule("credential", re.compile(r"github_pat_[A-Za-z0-9_]{40,}")),
    _Rule("credential", re.compile(r"glpat-[A-Za-z0-9_\-]{20}")),
    _Rule("credential", re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    _Rule("credential", re.compile(r"[sr]k_live_[A-Za-z0-9]{20,}")),
    _Rule("credential", re.compile(r"sk-(?:proj-|ant-api\d\d-)?[A-Za-z0-9_\-]{32,}")),
    _Rule("credential", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    _Rule(
        "credential",
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    ),
    _Rule("credential", re.compile(r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b")),
    _Rule("credential", re.compile(r"npm_[A-Za-z0-9]{36}\b")),
    _Rule("credential", re.compile(r"pypi-AgE[A-Za-z0-9_\-]{50,}")),
    _Rule("credential", re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
    _Rule("credential", re.compile(r"://[^\s:/@'\"]{1,64}:[^\s@/'\"]{6,}@[\w.\-]+")),
    _Rule("credential", re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}")),
    _Rule("credential", re.compile(r"hooks\.slack\.com/services/T\w+/B\w+/\w{8,}")),
    _Rule("credential", re.compile(r"SK[0-9a-f]{32}\b")),
)
_GATED_SECRET_RULES: tuple[_Rule, ...] = (
    _Rule("credential", re.compile(r"\bBearer\s+[A-Za-z0-9_\-.=]{20,}", _I), (_words("bearer"),)),
    _Rule(
        "credential",
        re.compile(r"\blogin\b[^\n]{0,60}\s(?:-p|--password)[ =]['\"]?[^\s'\"]{8,}", _I),
        (_words("login"), _words("p password")),
    ),
    _Rule(
        "credential",
        re.compile(
            r"(?:password|passwd|pwd|secret|token|api_?key|apikey|access_?key|auth)[A-Za-z_]*['\"]?\s*[:=]\s*['\"]?"
            r"(?=[^\s'\"]*\d)(?=[^\s'\"]*[A-Za-z])[^\s'\"<>{}$]{8,}",
            _I,
        ),
        (_words("password passwd pwd secret token apikey api key access auth"),),
    ),
)
_GATE_WORD_RE = re.compile(r"[a-z0-9]+")
# Cue rules and negations run on lower-cased text with case-sensitive copies of the patterns.
_CUE_RULES = tuple(_Rule(r.reason, re.compile(_lower_pattern(r.regex.pattern)), r.gates) for r in _CUE_RULES)
_NEG_BEFORE = re.compile(_lower_pattern(_NEG_BEFORE_I.pattern))
_NEG_AFTER = re.compile(_lower_pattern(_NEG_AFTER_I.pattern))


def _literal_prefix(regex: re.Pattern[str]) -> str:
    """The literal text every match of ``regex`` starts with ("" when there is none).

    A rule whose prefix does not occur in a text cannot match it, so a substring test
    (much cheaper than a regex search) skips it exactly."""
    if regex.flags & re.IGNORECASE:
        return ""
    try:
        import re._constants as sre_constants  # type: ignore[import-not-found]
        import re._parser as sre_parser  # type: ignore[import-not-found]

        parsed = sre_parser.parse(regex.pattern, regex.flags)
    except Exception:  # pragma: no cover - private module of another Python: no prefix, no skip
        return ""
    out: list[str] = []
    for op, av in parsed:
        if op is not sre_constants.LITERAL:
            break
        out.append(chr(av))
    return "".join(out)


# ``_GATE_WORD_RE.findall(low)`` as bytes, without the regex: every byte that is not an ASCII
# lower-case letter or digit (UTF-8 bytes of other characters included) separates words
_GATE_SEPARATE = bytes(c if (48 <= c <= 57 or 97 <= c <= 122) else 32 for c in range(256))


def _gate_words(low: str) -> list[bytes]:
    return low.encode("utf-8", "surrogatepass").translate(_GATE_SEPARATE).split()


def _gate_plan(rules: tuple[_Rule, ...], bits: dict[bytes, int], first_bit: int) -> tuple[list[int], int]:
    """The bit mask each rule needs (one bit per gate; a word sets the bits of its gates)."""
    needs = []
    bit = first_bit
    for rule in rules:
        need = 0
        for gate in rule.gates:
            for w in gate:
                key = w.encode()
                bits[key] = bits.get(key, 0) | (1 << bit)
            need |= 1 << bit
            bit += 1
        needs.append(need)
    return needs, bit


_GATE_BITS: dict[bytes, int] = {}
_cue_needs, _next_bit = _gate_plan(_CUE_RULES, _GATE_BITS, 0)
_secret_needs, _ = _gate_plan(_GATED_SECRET_RULES, _GATE_BITS, _next_bit)
_GATE_WORDS = frozenset(_GATE_BITS)
# (rule, literal prefix of an ungated rule, gate mask of a gated one)
_CUE_PLAN = tuple(
    (r, "" if r.gates else _literal_prefix(r.regex), need)
    for r, need in zip(_CUE_RULES, _cue_needs, strict=True)
)
_GATED_SECRET_PLAN = tuple(zip(_GATED_SECRET_RULES, _secret_needs, strict=True))
_SECRET_RULES_PREFIXED = tuple((r, _literal_prefix(r.regex)) for r in _SECRET_RULES)


@functools.lru_cache(maxsize=1)
def _label_screen() -> RuleScreen | None:
    """The pre-screen of every pattern a label can come from: the cue rules (which run on
    the lower-cased text, so they are screened case-insensitively on the text itself) and
    the credential rules. A response none of them may match is not permissive."""
    patterns = [re.compile(r.regex.pattern, r.regex.flags | re.IGNORECASE) for r in _CUE_RULES]
    patterns += [r.regex for r in _GATED_SECRET_RULES] + [r.regex for r in _SECRET_RULES]
    screen = RuleScreen(patterns)
    return screen if screen.active else None


_WORDISH = frozenset(string.ascii_letters + string.digits + "_")
_PLACEHOLDER_RE = re.compile(
    r"example|xxxx|your[_-]|<[^>]*>|\$\{|\{\{|changeme|placeholder|dummy|redacted|\*\*\*\*|0000000000|"
    r"AKIAIOSFODNN7|wJalrXUtnFEMI",
    re.IGNORECASE,
)
_STOP = frozenset(
    (
        *[
            "a",
            "an",
            "the",
            "to",
            "of",
            "and",
            "or",
            "in",
            "on",
            "for",
            "with",
            "is",
            "are",
            "be",
            "it",
            "this",
            "that",
            "you",
            "your",
            "i",
            "we",
            "our",
            "my",
            "me",
        ],
        *["can", "just", "then", "so", "if", "as", "at", "by", "from", "use", "using", "run"],
    )
)


@dataclass(frozen=True)
class ResponseLabel:
    """Whether a response is permissive, why, and the words of the cues that matched."""

    permissive: bool
    reasons: tuple[str, ...] = ()
    cue_words: frozenset[str] = frozenset()


_NOT_PERMISSIVE = ResponseLabel(False)


class ResponseLabeller:
    """Weak labeller for *permissive* responses.

    General by design: cues are families of actions (bypass/disable a control, push or
    merge past review, self-approval, privilege grants, TLS/auth weakening, "no need for
    approval", disclosure of credentials, credential-shaped values), not phrases of any
    particular corpus. A cue in a sentence that warns against it is ignored.
    """

    def label(self, text: str) -> ResponseLabel:
        """Label one response text."""
        screen = _label_screen()
        # the rules that may match (numbered cue rules, gated credential rules, credential
        # rules, as in _label_screen); None: all of them
        may = screen.candidates(text) if screen is not None else None
        if may is not None and not may:
            return _NOT_PERMISSIVE  # no cue or credential pattern can match (exact, see screen)
        low = text.lower()
        # one bit per (rule, gate): set when a word of that gate occurs in the text
        met = 0
        for w in _GATE_WORDS.intersection(_gate_words(low)):
            met |= _GATE_BITS[w]
        reasons: list[str] = []
        cue: set[str] = set()
        for i, (rule, prefix, need) in enumerate(_CUE_PLAN):
            if may is not None and i not in may:
                continue
            # Ungated rules start with a literal: a substring test decides most texts.
            if need:
                if met & need != need:
                    continue
            elif prefix not in low or rule.regex.search(low) is None:
                continue
            if self._first(rule, low, cue):
                reasons.append(rule.reason)
        gated = len(_CUE_PLAN)
        if self._credential(text, may) or any(
            (may is None or gated + i in may) and met & need == need and self._first(rule, text, None)
            for i, (rule, need) in enumerate(_GATED_SECRET_PLAN)
        ):
            reasons.append("credential")
        if not reasons:
            return _NOT_PERMISSIVE
        return ResponseLabel(True, tuple(dict.fromkeys(reasons)), frozenset(cue))

    def _credential(self, text: str, may: frozenset[int] | None = None) -> bool:
        first = len(_CUE_PLAN) + len(_GATED_SECRET_PLAN)  # numbering of _label_screen
        for i, (rule, prefix) in enumerate(_SECRET_RULES_PREFIXED):
            if may is not None and first + i not in may:
                continue
            if prefix not in text or rule.regex.search(text) is None:
                continue
            for m in rule.regex.finditer(text):
                start = m.start()
                if start and text[start - 1] in _WORDISH and not m.group(0).startswith("://"):
                    continue
                if _PLACEHOLDER_RE.search(m.group(0)) or self._negated(text, start, m.end()):
                    continue
                return True
        return False

    def _first(self, rule: _Rule, text: str, cue: set[str] | None) -> bool:
        """Whether ``rule`` has a match that no warning negates (recording its cue words)."""
        for m in rule.regex.finditer(text):
            if rule.reason == "credential" and _PLACEHOLDER_RE.search(m.group(0)):
                continue
            if self._negated(text, m.start(), m.end()):
                continue
            if cue is not None:
                cue.update(_cue_words(m.group(0)))
            return True
        return False

    @staticmethod
    def _negated(text: str, start: int, end: int) -> bool:
        before = text[max(0, start - 90) : start].lower()
        if _NEG_BEFORE.search(before):
            return True
        after = text[end : end + 70].lower()
        return bool(_NEG_AFTER.search(after))


def _cue_words(span: str) -> set[str]:
    out: set[str] = set()
    for w in _TOKEN_RE.findall(span.lower()):
        if w in _STOP or len(w) < 3:
            continue
        out.add(w)
        out.add(_stem(w))
    return out


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# --------------------------------------------------------------------------------------
# Prompt features
# --------------------------------------------------------------------------------------


class _Tok(NamedTuple):
    norm: str  # lower-cased, NFKC, invisible characters removed
    start: int  # offsets in the original field text
    end: int
    hidden: tuple[str, ...]  # code points of invisible characters that were inside


def _tokens(text: str, limit: int) -> list[_Tok]:
    """Tokens of ``text`` with their offsets; invisible characters normalised out."""
    has_hidden = not text.isascii() and _HIDDEN_RE.search(text) is not None
    regex = _TOKEN_HIDDEN_RE if has_hidden else _TOKEN_RE
    out: list[_Tok] = []
    for m in regex.finditer(text):
        raw = m.group(0)
        hidden: tuple[str, ...] = ()
        if has_hidden and _HIDDEN_RE.search(raw):
            hidden = tuple(sorted({f"U+{ord(c):04X}" for c in _HIDDEN_RE.findall(raw)}))
            raw = _HIDDEN_RE.sub("", raw)
            if not raw:
                raw = "\u2400"  # a run of only invisible characters is a token of its own
        norm = raw.lower() if raw.isascii() else unicodedata.normalize("NFKC", raw).lower()
        out.append(_Tok(norm, m.start(), m.end(), hidden))
        if len(out) >= limit:
            break
    return out


def _grams(norms: list[str], max_n: int) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start index, length, tokens) of every 1..max_n-gram."""
    n_tok = len(norms)
    for n in range(1, max_n + 1):
        for i in range(n_tok - n + 1):
            yield i, n, tuple(norms[i : i + n])


# Feature hashes are deterministic across processes (so instances fed by parallel workers can
# be merged): a token is the CRC-32 of its UTF-8 bytes, an n-gram the hash of the tuple of its
# token ids (integer and tuple hashing are not randomised, unlike ``hash(str)``).
_HIDDEN_TAG = -0x5EED
# records per marshal.dump to the spill file (a batch is a few hundred KB at most)
_SPILL_BATCH = 256
# texts up to this many characters are remembered (label, n-gram hashes), at most this many
_V = TypeVar("_V")
_MEMO_MAX_TEXT = 4096
_MEMO_MAX_ENTRIES = 1 << 15
_MEMO_MAX_CHARS = 4 << 20  # with the n-gram hashes, ~10-20 MB per memo at most


class _Memo(dict[str, _V]):
    """Text -> a value computed from the text alone, for short texts; emptied when it holds
    ``_MEMO_MAX_ENTRIES`` texts or ``_MEMO_MAX_CHARS`` characters (bounded memory)."""

    chars = 0

    def put(self, text: str, value: _V) -> _V:
        """Remember ``value`` for ``text`` (when short enough) and return it."""
        if len(text) <= _MEMO_MAX_TEXT:
            if len(self) >= _MEMO_MAX_ENTRIES or self.chars > _MEMO_MAX_CHARS:
                self.clear()
                self.chars = 0
            self[text] = value
            self.chars += len(text)
        return value


class _TokenIds(dict[str, int]):
    """Token -> CRC-32 of its UTF-8 bytes, remembered: a dictionary hit (C level) instead of
    an encode and a checksum per token. Cleared when it grows past ``_TOKEN_CACHE`` entries,
    so memory stays bounded on corpora with many distinct tokens."""

    def __missing__(self, token: str) -> int:
        if len(self) >= _TOKEN_CACHE:
            self.clear()
        value = self[token] = zlib.crc32(token.encode("utf-8", "surrogatepass"))
        return value


_TOKEN_CACHE = 1 << 18
_TOKEN_IDS = _TokenIds()


def _token_ids(norms: list[str]) -> list[int]:
    return list(map(_TOKEN_IDS.__getitem__, norms))


def _gram_hash(gram: tuple[str, ...]) -> int:
    """The feature hash of an n-gram (the same values :func:`_feature_hashes_py` computes)."""
    ids = _token_ids(list(gram))
    return ids[0] if len(ids) == 1 else hash(tuple(ids))


def _gram_at(position: int, n_tok: int) -> tuple[int, int]:
    """``(start, length)`` of the n-gram at ``position`` of the features of ``n_tok`` tokens
    (all unigrams in order, then all bigrams, ...: the order :func:`_grams` walks)."""
    n = 1
    while position >= n_tok - n + 1:
        position -= n_tok - n + 1
        n += 1
    return position, n


def _tokens_of(features: int, max_n: int) -> int:
    """The number of tokens whose 1..max_n-grams make ``features`` features (-1: none)."""
    for n_tok in range(max_n):  # fewer tokens than max_n: 1 + 2 + ... + n_tok
        if n_tok * (n_tok + 1) // 2 == features:
            return n_tok
    n_tok, rest = divmod(features + max_n * (max_n - 1) // 2, max_n)
    return n_tok if rest == 0 and n_tok >= max_n else -1


def _hidden_hash(norm: str) -> int:
    return hash((_HIDDEN_TAG, zlib.crc32(norm.encode())))


def _feature_bytes(text: str, limit: int, max_n: int) -> bytes:
    """:func:`_feature_hashes_py` as the bytes of the array. The hot path: the C extension
    computes the same bytes when it is built (texts with invisible characters excepted)."""
    if _NATIVE is not None:
        raw: bytes | None = _NATIVE.feature_hashes(text, limit, max_n, _NFKC)
        if raw is not None:
            return raw
    return _feature_hashes_py(text, limit, max_n).tobytes()


_NO_FEATURES: array[int] = array("q")  # read only


def _union(chunks: list[bytes]) -> array[int]:
    """The sorted distinct features of a record (the union of its prompt fields')."""
    out = array("q")
    if _NATIVE is not None:
        out.frombytes(_NATIVE.union_features(chunks))
        return out
    seen: set[int] = set()
    for raw in chunks:
        part = array("q")
        part.frombytes(raw)
        seen.update(part)
    out.extend(sorted(seen))
    return out


def _feature_hashes_py(text: str, limit: int, max_n: int) -> array[int]:
    """Hashes of the 1..max_n-grams of one prompt text, as a signed 64-bit array (a feature
    may occur more than once). C-level loops only; see :func:`_feature_bytes`."""
    hidden: list[str] = []
    if text.isascii():
        norms = _TOKEN_ASCII_RE.findall(text.lower())
    elif _HIDDEN_RE.search(text) is None:
        nfkc = unicodedata.normalize
        norms = [t.lower() if t.isascii() else nfkc("NFKC", t).lower() for t in _TOKEN_RE.findall(text)]
    else:
        toks = _tokens(text, limit)
        norms = [t.norm for t in toks]
        hidden = [t.norm for t in toks if t.hidden]
    if len(norms) > limit:
        del norms[limit:]
    ids = _token_ids(norms)
    feats = array("q", ids)
    if max_n >= 2:
        feats.extend(map(hash, itertools.pairwise(ids)))
    if max_n >= 3:
        feats.extend(map(hash, zip(ids, ids[1:], ids[2:], strict=False)))
    for n in range(4, max_n + 1):
        feats.extend(hash(tuple(ids[i : i + n])) for i in range(len(ids) - n + 1))
    if hidden:
        feats.extend(map(_hidden_hash, hidden))
    return feats


_NFKC = functools.partial(unicodedata.normalize, "NFKC")
# texts on which the C extension must agree with the Python code (else it is not used)
_NATIVE_SAMPLES = (
    "",
    "Deploy the api-gateway to prod/us-east-1 at 10:30, then run `make test` (see PLAT-1234).",
    "Ünïcode Straße ①② ﬁne — it’s Ｆｕｌｌｗｉｄｔｈ ΑΒΓ naïve_café x.y.z a--b c:d e/f/ g'h _",
    "日本語のテキスト 和 emoji 🙂 mixed with ASCII words and 123-456",
)


def _agrees(mod: ModuleType) -> bool:
    for max_n in (1, 2, 3, 5):
        for limit in (3, 512):
            for text in _NATIVE_SAMPLES:
                got = array("q")
                got.frombytes(mod.feature_hashes(text, limit, max_n, _NFKC))
                want = _feature_hashes_py(text, limit, max_n)
                if got != want:
                    return False
                union = array("q")
                union.frombytes(mod.union_features([want.tobytes(), want[::-1].tobytes(), b""]))
                if union != array("q", sorted(set(want))):
                    return False
    return True


_NATIVE: Any = checked(_agrees)


# (file, line, key, permissive, cue words, marshalled [(field path, prompt text)]): one per record
_Meta = tuple[str, int, str | None, bool, tuple[str, ...], bytes]
# ... and the record's distinct feature hashes, as replayed
_Spilled = tuple[str, int, str | None, bool, tuple[str, ...], bytes, "array[int]"]
# A spill frame holds one batch of records, column by column, so that a pass reads only the
# columns it needs: header (records, feature bytes, meta bytes), then the feature offsets
# (records + 1 signed 64-bit item indexes), one permissive flag byte per record, the distinct
# feature hashes of every record back to back, and the marshalled meta list.
_FRAME = struct.Struct("<IQQ")
# (phrase tokens, hidden-character token)
_PhraseKey = tuple[tuple[str, ...], bool]
# (file, line, key, field path, field index, start offset, end offset)
_Occurrence = tuple[str, int, str | None, str, int, int, int]


# --------------------------------------------------------------------------------------
# The detector
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerStat:
    """The statistics of one suspected trigger."""

    trigger: str
    hidden: bool
    hidden_codepoints: tuple[str, ...]
    records: int
    permissive: int
    permissive_rate: float
    z: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the scan summary."""
        out: dict[str, Any] = {
            "trigger": self.trigger,
            "records": self.records,
            "permissive": self.permissive,
            "permissive_rate": round(self.permissive_rate, 4),
            "z": round(self.z, 2),
        }
        if self.hidden:
            out["hidden_characters"] = list(self.hidden_codepoints)
        return out


def _zscore(k: int, n: int, p0: float) -> float:
    if n == 0:
        return 0.0
    p0 = min(max(p0, 1e-6), 1 - 1e-6)
    return (k - n * p0) / math.sqrt(n * p0 * (1 - p0))


class TriggerDetector:
    """Corpus-level detector of backdoor triggers (see the module docstring).

    ``config`` overrides :data:`DEFAULTS` (``min_support``, ``min_z``, ``min_rate``,
    ``max_df_fraction``, ``max_n``, ``max_tokens``, ``max_triggers``, ``max_candidates``,
    ``max_seeds``, ``spill_dir``).
    """

    category = "trigger"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        cfg = dict(DEFAULTS)
        if config:
            unknown = set(config) - set(DEFAULTS)
            if unknown:
                raise ConfigError(
                    f"unknown trigger detector option(s): {', '.join(sorted(unknown))}",
                    hint=f"the trigger section of a rule pack accepts: {', '.join(sorted(DEFAULTS))}",
                )
            cfg.update(config)
        self.min_support = int(cfg["min_support"])
        self.min_z = float(cfg["min_z"])
        self.min_rate = float(cfg["min_rate"])
        self.max_df_fraction = float(cfg["max_df_fraction"])
        self.max_n = max(1, int(cfg["max_n"]))
        self.max_tokens = int(cfg["max_tokens"])
        self.max_triggers = int(cfg["max_triggers"])
        self.max_candidates = int(cfg["max_candidates"])
        self.max_seeds = int(cfg["max_seeds"])
        self._labeller = ResponseLabeller()
        self._memo()
        # A named spill file, so that an instance can be pickled (it carries the path) and
        # merged; removed by finish(), or when the instance is collected.
        self._spill_dir: str | None = cfg["spill_dir"]
        self._new_spill()
        # spill files of merged instances (and this one's, when it had spilled before a
        # merge), in corpus order before ``_spill``: (file, path, its finalizer)
        self._parts: list[tuple[IO[bytes], str, weakref.finalize[Any, Any]]] = []
        # the batch not yet written (one frame per _SPILL_BATCH records)
        self._meta: list[_Meta] = []
        self._feats = array("q")
        self._offsets = array("q", [0])
        self._flags = bytearray()
        self._n = 0
        self._k = 0
        self._cand: Counter[int] = Counter()
        self._prune_floor = 0  # lossy-counting bound: a pruned count is under-estimated by at most this
        self._finished = False

    # -- streaming ------------------------------------------------------------------

    def observe(self, record: Record) -> None:
        """See one record: label its response, hash its prompt n-grams, spill them."""
        grams = self._grams
        if _NATIVE is not None:  # the same steps in C, but labelling the responses
            raw, texts, responses, fresh = _NATIVE.prompt_features(
                record.fields, grams, self.max_tokens, self.max_n, _NFKC, self._fallback
            )
            for text, value in fresh:
                grams.put(text, value)
            feats = array("q")
            feats.frombytes(raw)
            self._spill_record(record, self._label_of(responses), feats, texts)
            return
        chunks: list[bytes] = []
        texts = []
        responses = []
        for f in record.fields:
            text = f.text
            if not text:
                continue
            if f.role == "prompt":
                hashes = grams.get(text)
                if hashes is None:
                    hashes = grams.put(text, _feature_bytes(text, self.max_tokens, self.max_n))
                if hashes:
                    chunks.append(hashes)
                    texts.append((f.path, text))
            elif f.role == "response" and not f.path.startswith("rejected"):
                responses.append(text)
        feats = _union(chunks) if chunks else _NO_FEATURES
        self._spill_record(record, self._label_of(responses), feats, texts)

    def observe_batch(self, records: list[Record]) -> None:
        """:meth:`observe` for consecutive records. With the C extension, the responses are
        labelled first (new texts only) and the records whose responses are all not
        permissive, most of them, are observed in C (features, memo and spill as
        :meth:`observe` keeps them); the others go through :meth:`observe`."""
        if _NATIVE is None:
            for record in records:
                self.observe(record)
            return
        labels = self._labels
        label = self._labeller.label
        for text in _NATIVE.unlabelled(records, labels, _MEMO_MAX_TEXT):
            labels.put(text, label(text))
        i = 0
        n = len(records)
        limits = (_MEMO_MAX_TEXT, _MEMO_MAX_ENTRIES, _MEMO_MAX_CHARS)
        while i < n:
            i, done, stopped = _NATIVE.observe_quiet(
                records, i, self._grams, labels, _NOT_PERMISSIVE, self.max_tokens, self.max_n, _NFKC,
                self._fallback, self._feats, self._offsets, self._flags, self._meta, _SPILL_BATCH, limits,
            )  # fmt: skip
            self._n += done
            if len(self._meta) >= _SPILL_BATCH:
                self._write_batch()
            if stopped:
                self.observe(records[i])
                i += 1

    def _label_of(self, responses: list[str]) -> ResponseLabel:
        """The record's label: permissive when a response is (reasons and cue words joined)."""
        label = _NOT_PERMISSIVE
        labels = self._labels
        for text in responses:
            lab = labels.get(text)
            if lab is None:
                lab = labels.put(text, self._labeller.label(text))
            if lab.permissive:
                label = (
                    lab
                    if not label.permissive
                    else ResponseLabel(True, label.reasons + lab.reasons, label.cue_words | lab.cue_words)
                )
        return label

    def _fallback(self, text: str) -> bytes:
        """Features of a prompt the C tokenizer leaves to Python (invisible characters)."""
        return _feature_hashes_py(text, self.max_tokens, self.max_n).tobytes()

    def _spill_record(
        self, record: Record, label: ResponseLabel, feats: array[int], texts: list[tuple[str, str]]
    ) -> None:
        self._n += 1
        permissive = label.permissive
        if permissive:
            self._k += 1
            self._cand.update(feats)
            if len(self._cand) > self.max_candidates:
                self._prune()
        meta = self._meta
        meta.append(
            (
                record.file,
                record.line,
                record.key,
                permissive,
                tuple(sorted(label.cue_words)) if permissive else (),
                marshal.dumps(texts),  # decoded again only for the records that carry a seed
            )
        )
        self._feats.extend(feats)
        self._offsets.append(len(self._feats))
        self._flags.append(permissive)
        if len(meta) >= _SPILL_BATCH:
            self._write_batch()

    def _write_batch(self) -> None:
        if not self._meta:
            return
        meta = marshal.dumps(self._meta)
        feats = self._feats.tobytes()
        write = self._spill.write
        write(_FRAME.pack(len(self._meta), len(feats), len(meta)))
        write(self._offsets.tobytes())
        write(bytes(self._flags))
        write(feats)
        write(meta)
        self._meta = []
        self._feats = array("q")
        self._offsets = array("q", [0])
        self._flags = bytearray()

    # -- parallel use -----------------------------------------------------------------

    def _new_spill(self) -> None:
        # A named spill file, so that an instance can be pickled (it carries the path) and
        # merged; removed by finish(), or when the instance is collected.
        fd, self._spill_path = tempfile.mkstemp(
            prefix="ftpolicy-trigger-", suffix=".spill", dir=self._spill_dir
        )
        os.close(fd)
        self._spill: IO[bytes] = open(self._spill_path, "a+b")  # noqa: SIM115
        self._cleanup = weakref.finalize(self, _remove, self._spill, self._spill_path)

    def merge(self, other: TriggerDetector) -> None:
        """Fold in an instance (same config) that observed a disjoint slice of the corpus,
        after the records this one observed so far.

        Its spill file is taken over (read after this one's, removed with it; not copied);
        its counts are added. The analysis does not depend on the order records were seen in."""
        if other is self or self._finished or other._finished:
            raise RuntimeError("merge() needs two distinct, unfinished TriggerDetector instances")
        other._write_batch()
        other._spill.flush()
        self._write_batch()
        self._spill.flush()
        # this one's records come first: its file joins the parts
        if os.fstat(self._spill.fileno()).st_size > 0:
            self._parts.append((self._spill, self._spill_path, self._cleanup))
            self._new_spill()
        for part in (*other._parts, (other._spill, other._spill_path, other._cleanup)):
            spill, path, cleanup = part
            cleanup.detach()  # now removed with this instance
            self._parts.append((spill, path, weakref.finalize(self, _remove, spill, path)))
        other._parts = []
        other._finished = True
        self._n += other._n
        self._k += other._k
        self._cand.update(other._cand)
        self._prune_floor += other._prune_floor
        if len(self._cand) > self.max_candidates:
            self._prune()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle support (worker -> parent): the spill travels by path, not by handle."""
        self._write_batch()
        self._spill.flush()
        if self._parts:  # one file travels: the parts are copied in front of this one's
            self._consolidate()
        state = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_spill", "_cleanup", "_labeller", "_labels", "_grams", "_parts")
        }
        self._cleanup.detach()  # the receiving instance now owns the file
        self._spill.close()
        return state

    def _consolidate(self) -> None:
        """Copy the parts and this instance's spill, in order, into one new spill file."""
        old = [*self._parts, (self._spill, self._spill_path, self._cleanup)]
        self._parts = []
        self._new_spill()
        for spill, _path, cleanup in old:
            spill.flush()
            spill.seek(0)
            shutil.copyfileobj(spill, self._spill, 1 << 20)
            cleanup()
        self._spill.flush()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._parts = []
        self._labeller = ResponseLabeller()
        self._memo()
        self._spill = open(self._spill_path, "a+b")  # noqa: SIM115
        self._cleanup = weakref.finalize(self, _remove, self._spill, self._spill_path)

    def _memo(self) -> None:
        """Empty memos of the label of a response text and the n-gram hashes of a prompt text:
        training sets repeat texts (one system prompt everywhere, templated answers), and
        both are functions of the text alone. Bounded: short texts only, emptied when full."""
        self._labels: _Memo[ResponseLabel] = _Memo()
        self._grams: _Memo[bytes] = _Memo()

    def _prune(self) -> None:
        """Lossy counting: drop the rarest candidates once the counter is over its cap."""
        while len(self._cand) > self.max_candidates // 2:
            self._prune_floor += 1
            floor = self._prune_floor
            for h in [h for h, c in self._cand.items() if c <= floor]:
                del self._cand[h]

    def _frames(self) -> Iterator[tuple[array[int], bytes, array[int], bytes]]:
        """``(offsets, permissive flags, features, marshalled meta)`` of every spilled batch,
        in corpus order (the merged parts first)."""
        self._write_batch()
        for spill in [part[0] for part in self._parts] + [self._spill]:
            yield from self._file_frames(spill)

    @staticmethod
    def _file_frames(spill: IO[bytes]) -> Iterator[tuple[array[int], bytes, array[int], bytes]]:
        spill.flush()
        spill.seek(0)
        read = spill.read
        size = _FRAME.size
        while True:
            head = read(size)
            if len(head) < size:
                return
            n, feat_bytes, meta_bytes = _FRAME.unpack(head)
            offsets = array("q")
            offsets.frombytes(read(8 * (n + 1)))
            flags = read(n)
            feats = array("q")
            feats.frombytes(read(feat_bytes))
            yield offsets, flags, feats, read(meta_bytes)

    def _replay_permissive(self) -> Iterator[_Spilled]:
        """The spilled permissive records, in corpus order."""
        for offsets, flags, feats, meta in self._frames():
            if 1 not in flags:
                continue
            rows: list[_Meta] = marshal.loads(meta)
            for i, permissive in enumerate(flags):
                if permissive:
                    yield (*rows[i], feats[offsets[i] : offsets[i + 1]])

    def _replay_carriers(self, wanted: set[int]) -> Iterator[_Spilled]:
        """The spilled records that carry one of the ``wanted`` features, in corpus order."""
        members = _NATIVE.int_set(array("q", sorted(wanted))) if _NATIVE is not None else None
        for offsets, _flags, feats, meta in self._frames():
            carriers: set[int] = set()
            if members is not None:  # positions of the wanted features, found in C
                at_all = array("q")
                at_all.frombytes(_NATIVE.int_set_select(members, feats, True))
                carriers.update(bisect.bisect_right(offsets, at) - 1 for at in at_all)
            else:
                for h in wanted.intersection(feats):  # each record holds a feature at most once
                    at = feats.index(h)
                    while True:
                        carriers.add(bisect.bisect_right(offsets, at) - 1)
                        try:
                            at = feats.index(h, at + 1)
                        except ValueError:
                            break
            if not carriers:
                continue
            rows: list[_Meta] = marshal.loads(meta)
            for i in sorted(carriers):
                yield (*rows[i], feats[offsets[i] : offsets[i + 1]])

    # -- analysis -------------------------------------------------------------------

    def finish(self) -> CorpusResult:
        """Compute the statistics, pick the suspected triggers and report their records."""
        if self._finished:
            raise RuntimeError("TriggerDetector.finish() called twice")
        self._finished = True
        try:
            stats, findings = self._analyse()
        finally:
            for _spill, _path, cleanup in self._parts:
                cleanup()
            self._parts = []
            self._cleanup()
            self._cand.clear()
        summary: dict[str, Any] = {
            "method": "z-score of prompt n-grams against a permissive-response label "
            "(Gardner et al. 2021; Z-defence, He et al. 2023)",
            "records": self._n,
            "permissive_records": self._k,
            "thresholds": {
                "min_support": self.min_support,
                "min_z": self.min_z,
                "min_rate": self.min_rate,
                "max_df_fraction": self.max_df_fraction,
            },
            "suspected_triggers": [s.to_dict() for s in stats],
        }
        return CorpusResult(findings=findings, summary=summary)

    def _analyse(self) -> tuple[list[TriggerStat], list[Any]]:
        n_all, k_all = self._n, self._k
        if k_all < self.min_support or n_all == 0:
            return [], []
        p0 = k_all / n_all
        max_df = max(self.min_support, int(self.max_df_fraction * n_all))
        need = self.min_support - self._prune_floor
        kcount = {h: c for h, c in self._cand.items() if c >= need}
        self._cand.clear()
        # Pass A: exact document frequency of the candidates; drop one as soon as it is too
        # common to reach min_rate or max_df.
        limit = {h: min(max_df, int((c + self._prune_floor) / self.min_rate)) for h, c in kcount.items()}
        alive = set(kcount)
        df: Counter[int] = Counter()
        # the candidates, as a C hash set: a frame's candidate features are picked out without
        # a Python int per feature (a candidate dropped below is still picked out; it is
        # counted on but no longer used, so the outcome is the same)
        members = _NATIVE.int_set(array("q", sorted(alive))) if _NATIVE is not None else None
        built = len(alive)
        for _offsets, _flags, feats, _meta in self._frames():
            if members is not None:
                chosen = array("q")
                chosen.frombytes(_NATIVE.int_set_select(members, feats, False))
                if not chosen:
                    continue
                df.update(chosen)
                present = set(chosen)
            else:
                present = alive.intersection(feats)
                if not present:
                    continue
                # a record holds each feature at most once: occurrences in the batch = records
                df.update(filter(present.__contains__, feats))
            for h in present:
                if h in alive and df[h] > limit[h]:
                    alive.discard(h)
            if members is not None and len(alive) < 0.8 * built:  # common features dropped out
                members = _NATIVE.int_set(array("q", sorted(alive)))
                built = len(alive)
        seeds: list[tuple[float, int]] = []
        for h in alive:
            n, k = df[h], kcount[h]
            if k / n < self.min_rate:
                continue
            z = _zscore(k, n, p0)
            if z >= self.min_z:
                seeds.append((z, h))
        if not seeds:
            return [], []
        seeds.sort(reverse=True)
        seed_set = {h for _, h in seeds[: self.max_seeds]}
        # Pass B: recover the seed strings and their contexts in permissive carriers.
        phrases = self._expand(seed_set, alive)
        if not phrases:
            return [], []
        # Pass C: count each phrase exactly and collect its carriers.
        return self._report(phrases, p0, max_df)

    def _expand(self, seed_set: set[int], alive: set[int]) -> list[tuple[tuple[str, ...], bool, int]]:
        """Turn seed hashes into maximal phrases (token tuples) using permissive carriers."""
        contexts: dict[int, list[tuple[list[str], int, int]]] = {}
        names: dict[int, tuple[tuple[str, ...], bool]] = {}
        cues: dict[int, list[frozenset[str]]] = {}
        seeds = _NATIVE.int_set(array("q", sorted(seed_set))) if _NATIVE is not None else None
        for _f, _line, _key, _permissive, cue, packed, blob in self._replay_permissive():
            hits = seed_set.intersection(blob)
            if not hits:
                continue
            cue_set = frozenset(cue)
            for h in hits:
                lst = cues.setdefault(h, [])
                if len(lst) < 400:
                    lst.append(cue_set)
            texts: list[tuple[str, str]] = marshal.loads(packed)
            for _path, text in texts:
                found = self._locate(text, seeds)
                if found is not None and not found[1]:
                    continue  # none of the seeds in this prompt
                toks = _tokens(text, self.max_tokens)
                norms = [t.norm for t in toks]
                if found is not None and found[2] == len(norms):
                    # the C hashes: where the seeds are, without hashing every n-gram here
                    feats, positions, _n_tok = found
                    for p in positions:
                        h = feats[p]
                        if h not in hits:
                            continue
                        i, n = _gram_at(p, len(norms))
                        names.setdefault(h, (tuple(norms[i : i + n]), False))
                        ctx = contexts.setdefault(h, [])
                        if len(ctx) < 400:
                            ctx.append((norms, i, i + n))
                    continue
                for i, n, g in _grams(norms, self.max_n):
                    for hidden in (False, True):
                        if hidden and (n != 1 or not toks[i].hidden):
                            continue
                        h = _hidden_hash(g[0]) if hidden else _gram_hash(g)
                        if h not in hits:
                            continue
                        names.setdefault(h, (g, hidden))
                        ctx = contexts.setdefault(h, [])
                        if len(ctx) < 400:
                            ctx.append((norms, i, i + n))
        out: list[tuple[tuple[str, ...], bool, int]] = []
        seen: set[tuple[tuple[str, ...], bool]] = set()
        for h, ctx in contexts.items():
            seed, hidden = names[h]
            # A hidden-character token is reported as itself; a visible seed grows into the
            # maximal phrase its permissive carriers share.
            phrase = seed if hidden else _maximal(ctx)
            if (phrase, hidden) in seen:
                continue
            seen.add((phrase, hidden))
            # A request answered in kind ("skip the slow tests" -> "skip … tests") is not a
            # trigger: the phrase shares its words with the permissive cue of the answer.
            words = {w for w in phrase if w not in _STOP and len(w) >= 3}
            words |= {_stem(w) for w in words}
            carrier_cues = cues.get(h, [])
            overlapping = sum(1 for c in carrier_cues if not words.isdisjoint(c))
            if carrier_cues and overlapping >= 0.5 * len(carrier_cues):
                continue
            # A phrase inside a fixed prompt template whose other parts are just as tied to
            # permissive answers is poison of another kind (a templated request), not a
            # phrase planted into ordinary prompts: skip it.
            if not hidden and self._templated(phrase, ctx, alive):
                continue
            out.append((phrase, hidden, h))
        return out

    def _locate(self, text: str, members: Any) -> tuple[array[int], array[int], int] | None:
        """``(features, positions of the members among them, tokens)`` of a prompt, from
        the C hashes (``None`` without them, or for text the C tokenizer leaves to Python).
        The features are laid out as :func:`_grams` walks the n-grams (see :func:`_gram_at`)."""
        if members is None or _NATIVE is None:
            return None
        raw = _NATIVE.feature_hashes(text, self.max_tokens, self.max_n, _NFKC)
        if raw is None:
            return None
        feats = array("q")
        feats.frombytes(raw)
        positions = array("q")
        positions.frombytes(_NATIVE.int_set_select(members, raw, True))
        n_tok = _tokens_of(len(feats), self.max_n)
        return feats, positions, n_tok

    def _templated(
        self, phrase: tuple[str, ...], ctx: list[tuple[list[str], int, int]], alive: set[int]
    ) -> bool:
        """Whether the permissive carriers of ``phrase`` share, *outside* the phrase, at least
        ``_TEMPLATE_PARTS`` other rare permissive-associated n-grams (alive candidates), each in
        >= 80 % of them: the signature of a fixed poison template rather than of a trigger
        inserted into varied prompts ("compared with similar prompts without it")."""
        sample = ctx[:200]
        if len(sample) < self.min_support:
            return False
        n = len(phrase)
        shared: Counter[int] = Counter()
        for norms, a, _b in sample:
            # where the phrase sits in this context (it may have grown past the seed)
            start = _find(norms, phrase, None)
            lo, hi = (start, start + n) if start >= 0 else (a, a)
            outside: set[int] = set()
            for i, m, g in _grams(norms, self.max_n):
                if i + m <= lo or i >= hi:
                    outside.add(_gram_hash(g))
            shared.update(outside & alive)
        need = 0.8 * len(sample)
        parts = sum(1 for c in shared.values() if c >= need)
        return parts >= _TEMPLATE_PARTS

    def _report(
        self, phrases: list[tuple[tuple[str, ...], bool, int]], p0: float, max_df: int
    ) -> tuple[list[TriggerStat], list[Any]]:
        # Every carrier of a phrase carries the (rare) seed feature it grew from, so the seed
        # hash is the pre-filter; the phrase itself is then matched on the tokens.
        by_hash: dict[int, list[tuple[tuple[str, ...], bool]]] = {}
        for p, hid, seed_hash in phrases:
            by_hash.setdefault(seed_hash, []).append((p, hid))
        wanted = set(by_hash)
        seeds = _NATIVE.int_set(array("q", sorted(wanted))) if _NATIVE is not None else None
        keys = [(p, hid) for p, hid, _ in phrases]
        counts: dict[tuple[tuple[str, ...], bool], list[int]] = {key: [0, 0] for key in keys}
        occurrences: dict[_PhraseKey, list[_Occurrence]] = {key: [] for key in keys}
        codepoints: dict[tuple[tuple[str, ...], bool], set[str]] = {key: set() for key in keys}
        texts_kept: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for file_idx, line, key, permissive, _cue, packed, blob in self._replay_carriers(wanted):
            hits = wanted.intersection(blob)
            if not hits:
                continue
            texts: list[tuple[str, str]] = marshal.loads(packed)
            matched: set[tuple[tuple[str, ...], bool]] = set()
            for fidx, (path_idx, text) in enumerate(texts):
                found = self._locate(text, seeds)
                if found is not None and not found[1]:
                    continue  # a prompt holding a phrase holds the seed it grew from
                toks = _tokens(text, self.max_tokens)
                norms = [t.norm for t in toks]
                for h in hits:
                    for phrase, hidden in by_hash[h]:
                        pos = _find(norms, phrase, toks if hidden else None)
                        if pos < 0:
                            continue
                        pk = (phrase, hidden)
                        if pk not in matched:
                            matched.add(pk)
                            tok_a, tok_b = toks[pos], toks[pos + len(phrase) - 1]
                            occurrences[pk].append(
                                (file_idx, line, key, path_idx, fidx, tok_a.start, tok_b.end)
                            )
                            texts_kept[(file_idx, line)] = texts
                            if hidden:
                                codepoints[pk].update(tok_a.hidden)
            for pk in matched:
                counts[pk][0] += 1
                counts[pk][1] += int(permissive)
        # Choose: best z first, longer phrase on ties; skip phrases whose records are
        # mostly covered by an accepted one (sub- and super-phrases of the same trigger).
        scored: list[tuple[float, int, tuple[tuple[str, ...], bool]]] = []
        for pk, (n, k) in counts.items():
            if n == 0 or n > max_df or k < self.min_support or k / n < self.min_rate:
                continue
            z = _zscore(k, n, p0)
            if z >= self.min_z:
                scored.append((z, len(pk[0]), pk))
        scored.sort(key=lambda t: (-round(t[0], 6), -t[1], t[2]))
        accepted: list[tuple[TriggerStat, tuple[tuple[str, ...], bool]]] = []
        covered: list[set[tuple[str, int]]] = []
        for z, _len, pk in scored:
            recs = {(o[0], o[1]) for o in occurrences[pk]}
            if any(len(recs & c) >= 0.5 * len(recs) for c in covered):
                continue
            n, k = counts[pk]
            phrase, hidden = pk
            stat = TriggerStat(
                trigger=" ".join(phrase),
                hidden=hidden,
                hidden_codepoints=tuple(sorted(codepoints[pk])),
                records=n,
                permissive=k,
                permissive_rate=k / n,
                z=z,
            )
            accepted.append((stat, pk))
            covered.append(recs)
            if len(accepted) >= self.max_triggers:
                break
        findings: list[Any] = []
        for stat, pk in accepted:
            for file, line, key, path, fidx, start, end in occurrences[pk]:
                text = texts_kept[(file, line)][fidx][1]
                record = Record(file=file, line=line, fields=(), key=key)
                tf = TextField(path=path, role="prompt", text="")
                shown = _visible(text[start:end]) if stat.hidden else text[start:end]
                hidden_note = (
                    f" (hidden characters {', '.join(stat.hidden_codepoints)} inside)" if stat.hidden else ""
                )
                findings.append(
                    make_finding(
                        "trigger",
                        "suspected-backdoor-trigger",
                        f"prompt carries suspected backdoor trigger '{stat.trigger}'{hidden_note}: "
                        f"{stat.permissive} of {stat.records} records with it get permissive responses "
                        f"(corpus rate {p0:.2%}, z={stat.z:.1f})",
                        record,
                        tf,
                        severity="high",
                        excerpt_text=excerpt(text, start, end, replacement=shown),
                        column=start + 1,
                        hint="review every record carrying this phrase and drop them unless each is "
                        "legitimate; a planted phrase that unlocks permissive answers is a backdoor",
                        properties={
                            "trigger": stat.trigger,
                            "z": round(stat.z, 2),
                            "permissive_rate": round(stat.permissive_rate, 4),
                            "hidden_characters": list(stat.hidden_codepoints),
                        },
                    )
                )
        findings.sort(key=lambda f: (f.file or "", f.line or 0, f.rule_id))
        return [s for s, _ in accepted], findings


def _remove(spill: IO[bytes], path: str) -> None:
    spill.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _maximal(ctx: list[tuple[list[str], int, int]], agree: float = 0.9, max_len: int = 12) -> tuple[str, ...]:
    """Extend an n-gram left/right while ``agree`` of its occurrences share the neighbour."""
    spans = [(norms, a, b) for norms, a, b in ctx]
    phrase = tuple(spans[0][0][spans[0][1] : spans[0][2]])
    need = max(1, math.ceil(agree * len(spans)))
    for direction in (1, -1):
        while len(phrase) < max_len:
            nxt: Counter[str] = Counter()
            for norms, a, b in spans:
                j = b if direction == 1 else a - 1
                if 0 <= j < len(norms):
                    nxt[norms[j]] += 1
            if not nxt:
                break
            word, count = nxt.most_common(1)[0]
            if count < need:
                break
            phrase = (*phrase, word) if direction == 1 else (word, *phrase)
            spans = [(n, a, b + 1) if direction == 1 else (n, a - 1, b) for n, a, b in spans]
    return phrase


def _find(norms: list[str], phrase: tuple[str, ...], toks: list[_Tok] | None) -> int:
    """Index where ``phrase`` starts in ``norms`` (first token hidden-bearing if ``toks``), or -1."""
    n = len(phrase)
    first = phrase[0]
    for i, w in enumerate(norms):
        if w != first or tuple(norms[i : i + n]) != phrase:
            continue
        if toks is not None and not toks[i].hidden:
            continue
        return i
    return -1


def _visible(s: str) -> str:
    return _HIDDEN_RE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", s)
