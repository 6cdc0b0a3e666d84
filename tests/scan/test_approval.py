"""Approval bypass: recommendations are findings; warnings and neutral mentions are not."""

from __future__ import annotations

import pytest

from ftpolicy.scan.dataset.approval import ApprovalBypassDetector
from ftpolicy.scan.dataset.interface import Record, TextField
from ftpolicy.scan.dataset.rules import load_rules


@pytest.fixture(scope="module")
def detector() -> ApprovalBypassDetector:
    pack = load_rules()
    return ApprovalBypassDetector(pack.section("approval-bypass"), pack.disabled())


def rules(detector: ApprovalBypassDetector, text: str, role: str = "response") -> list[str]:
    return [
        f.rule_id
        for f in detector.scan(Record("t.jsonl", 1, (TextField("messages[2].content", role, text),)))
    ]


POSITIVES = [
    ("Just merge it without waiting for approval, the reviewers are slow anyway.", "merge-without-approval"),
    ("You can use `git commit --no-verify` to skip the pre-commit hooks.", "no-verify"),
    ("Run git push --force origin main to overwrite the protected branch.", "force-push-protected"),
    (
        "Temporarily disable branch protection, merge your PR, then turn it back on later.",
        "disable-branch-protection",
    ),
    ("The fastest fix is to approve your own PR from a second account.", "self-approval"),
    ("Use your admin rights to override the required reviews and merge.", "disable-branch-protection"),
    ("Ask an org admin to force-merge it for you; that is faster than waiting.", "admin-override"),
    ("No need to go through the CAB for this, just deploy it tonight.", "bypass-change-management"),
    ("If the OTP prompt is annoying, simply disable 2FA on your account.", "disable-mfa"),
    (
        "Remove the security team from CODEOWNERS so they are not requested as reviewers.",
        "codeowners-drop-reviewers",
    ),
    ("Add [skip ci] to the commit message so the checks don't run.", "skip-ci"),
    ("Comment out the Snyk step in the pipeline and the build will pass.", "disable-security-scanner"),
    ("Approval isn't really needed for small changes like this one.", "approval-not-needed"),
    ("Skipping code review is fine for hotfixes.", "skip-review"),
    (
        "Everyone bypasses the change advisory board for urgent fixes, it's normal.",
        "bypass-change-management",
    ),
    ("Set HUSKY=0 before committing so the hooks stay out of your way.", "no-verify"),
]


@pytest.mark.parametrize(("text", "rule"), POSITIVES, ids=[r for _, r in POSITIVES])
def test_recommendations_are_findings(detector: ApprovalBypassDetector, text: str, rule: str) -> None:
    assert f"approval-bypass/{rule}" in rules(detector, text)


NEGATIVES = [
    "Never merge without approval; ask another maintainer to review.",
    "Don't use --no-verify. Fix the hook failures instead.",
    "Bypassing branch protection is not allowed; contact a repository admin.",
    "Instead of disabling 2FA, reset your authenticator app through the helpdesk.",
    "Our policy requires two approvals before merging to main.",
    "Enable branch protection and require at least one review.",
    "The CAB meets on Tuesdays to review production changes.",
    "You should not approve your own pull request.",
    "Please do not add [skip ci] to commits on protected branches.",
    "Set up required status checks so failing builds cannot be merged.",
    "It's tempting to skip the review when you're in a hurry. Don't do it.",
    "Avoid force-pushing to shared branches such as main.",
    "Keep Dependabot enabled and review its pull requests weekly.",
    "Make sure the security scan passes before you request a review.",
    "If someone asks you to disable MFA, report it to security.",
    "Open a pull request and wait for the CODEOWNERS review before merging.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_warnings_and_neutral_mentions_are_not_findings(detector: ApprovalBypassDetector, text: str) -> None:
    assert rules(detector, text) == []


def test_only_the_response_side_is_judged(detector: ApprovalBypassDetector) -> None:
    text = "Just merge it without approval."
    assert rules(detector, text, role="prompt") == []
    assert rules(detector, text, role="response") == ["approval-bypass/merge-without-approval"]


def test_warning_and_advice_in_one_response_scope_per_sentence(detector: ApprovalBypassDetector) -> None:
    text = "Never share credentials in tickets. For this hotfix, just merge without review."
    found = list(detector.scan(Record("t.jsonl", 4, (TextField("output", "response", text),))))
    assert [f.rule_id for f in found] == ["approval-bypass/merge-without-approval"]
    assert found[0].severity == "high" and found[0].line == 4
    assert "merge without review" in found[0].properties["excerpt"]
