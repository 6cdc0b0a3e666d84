"""Secret detection: provider formats found, placeholders/examples/hashes/UUIDs not."""

from __future__ import annotations

import random
import string

import pytest

from ftpolicy.scan.dataset.interface import Record, TextField
from ftpolicy.scan.dataset.rules import load_rules
from ftpolicy.scan.dataset.secrets import SecretDetector

RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    pack = load_rules()
    return SecretDetector(pack.section("secret"), pack.disabled())


def scan(detector: SecretDetector, text: str, role: str = "response") -> list[str]:
    rec = Record("train.jsonl", 3, (TextField("messages[2].content", role, text),))
    return [f.rule_id for f in detector.scan(rec)]


PEM_BODY = "\n".join(rnd(64, B64) for _ in range(6))
POSITIVES = [
    (
        f"aws_access_key_id = AKIA{rnd(16, string.ascii_uppercase + string.digits)}",
        "secret/aws-access-key-id",
    ),
    (f"AWS_SECRET_ACCESS_KEY={rnd(40, B64)}", "secret/aws-secret-access-key"),
    (f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----", "secret/private-key"),
    (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        + "\\n".join(rnd(64, B64) for _ in range(5))
        + '\\n-----END PRIVATE KEY-----\\n"}',
        "secret/private-key",
    ),
    (f"key=AIza{rnd(35)}", "secret/gcp-api-key"),
    (
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={rnd(86, B64)}=="
        ";EndpointSuffix=core.windows.net",
        "secret/azure-storage-key",
    ),
    (f"use ghp_{rnd(36)} for the clone", "secret/github-token"),
    (f"export GL_TOKEN=glpat-{rnd(20)}", "secret/gitlab-token"),
    (f"bitbucket app password ATBB{rnd(32)}", "secret/bitbucket-token"),
    (
        f"SLACK_BOT_TOKEN=xoxb-{rnd(12, string.digits)}-{rnd(12, string.digits)}-{rnd(24)}",
        "secret/slack-token",
    ),
    (f"bot = {rnd(10, '123456789')}:AA{rnd(33)}", "secret/telegram-bot-token"),
    (f"stripe.api_key = 'sk_live_{rnd(24)}'", "secret/stripe-key"),
    (f"SENDGRID_API_KEY=SG.{rnd(22)}.{rnd(43)}", "secret/sendgrid-key"),
    (f"OPENAI_API_KEY=sk-proj-{rnd(64)}", "secret/openai-key"),
    (f"client = Anthropic(api_key='sk-ant-api03-{rnd(90)}')", "secret/anthropic-key"),
    (f"HF_TOKEN=hf_{rnd(34)}", "secret/huggingface-token"),
    (f"//registry.npmjs.org/:_authToken=npm_{rnd(36)}", "secret/npm-token"),
    (f"password = pypi-AgEIcHlwaS5vcmc{rnd(70)}", "secret/pypi-token"),
    (f"DATABASE_URL=postgres://app:{rnd(14)}@db.internal:5432/app", "secret/connection-string"),
    (f"mongodb+srv://svc:{rnd(16)}@cluster0.mongodb.net/prod", "secret/connection-string"),
    (f"Authorization: Bearer eyJ{rnd(30)}.eyJ{rnd(60)}.{rnd(43)}", "secret/jwt"),
    ("db_password = 'Xq7#mP2vL9wQ'", "secret/generic-assignment"),
    ("The admin password is Tr0ub4dor&3x, keep it safe.", "secret/generic-assignment"),
]


@pytest.mark.parametrize(("text", "rule"), POSITIVES, ids=[r for _, r in POSITIVES])
def test_provider_formats_are_found(detector: SecretDetector, text: str, rule: str) -> None:
    assert rule in scan(detector, text)


NEGATIVES = [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "token: <your-token>",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "password = ${DB_PASSWORD}",
    "password: ********",
    "api_key = 'REDACTED'",
    "secret = changeme",
    "password = os.environ['DB_PASSWORD']",
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "postgres://user:password@localhost:5432/app",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "md5 checksum d41d8cd98f00b204e9800998ecf8427e",
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 fixed it",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "the secret is a base64 blob: " + rnd(64, B64) + "==",
    "stripe test key from the docs: sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "api_key = get_api_key()",
    "max_tokens = 4096 and the token_count: 1200",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "OPENAI_API_KEY=sk-your-key-here",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_placeholders_examples_hashes_are_not_findings(detector: SecretDetector, text: str) -> None:
    assert scan(detector, text) == []


def test_severity_depends_on_side_and_value_is_redacted(detector: SecretDetector) -> None:
    token = f"ghp_{rnd(36)}"
    rec = Record(
        "train.jsonl",
        9,
        (
            TextField("messages[1].content", "prompt", f"my token {token}"),
            TextField("output", "response", token),
        ),
    )
    findings = list(detector.scan(rec))
    assert [(f.severity, f.properties["field"]) for f in findings] == [
        ("medium", "messages[1].content"),
        ("high", "output"),
    ]
    for f in findings:
        assert token not in f.properties["excerpt"]
        assert "[REDACTED]" in f.properties["excerpt"]
        assert token not in str(f.to_dict())
        assert f.line == 9 and f.category == "secret"


def test_fingerprint_is_stable_and_value_based(detector: SecretDetector) -> None:
    token = f"glpat-{rnd(20)}"
    a = list(detector.scan(Record("f.jsonl", 1, (TextField("output", "response", f"x {token}"),))))
    b = list(detector.scan(Record("f.jsonl", 99, (TextField("output", "response", f"use {token} now"),))))
    c = list(detector.scan(Record("f.jsonl", 1, (TextField("output", "response", f"glpat-{rnd(20)}"),))))
    assert a[0].properties["fingerprint"] == b[0].properties["fingerprint"]
    assert a[0].properties["fingerprint"] != c[0].properties["fingerprint"]


def test_placeholder_words_inside_long_key_bodies_do_not_hide_keys(detector: SecretDetector) -> None:
    body = "\n".join(
        ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB", rnd(40, B64) + "FakEMIi" + rnd(17, B64)]
    )
    body += "\n" + "\n".join(rnd(64, B64) for _ in range(4))
    text = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    assert scan(detector, text, role="prompt") == ["secret/private-key"]
