# Promotion: an adapter version may be deployed only when its verified attestation chain
# shows separation of duties, an independent dataset review, fresh security evals that
# pass the registered holdout suite's thresholds on this exact adapter, and a clean scan.
#
# Input (built by ftpolicy from `verify_chain`, see ftpolicy/promotion.py):
#   input.chains        [{subject, dataset, manifest, verified, adapter_digest, failures[]}]
#                       the adapters to judge (`ftpolicy verify adapter`, or in `check` the
#                       adapters and registry entries a change touches)
#   input.attestations  [{subject, step, verified, identity, teams, signer, time, link, evidence}]
#                       only links of chains that verified; a chain with any failure
#                       contributes no attestation at all (never a half fact)
#   input.manifests     the adapter, dataset and eval-suite manifests (subject false)
#
# Waivers: promotion/scan-high-finding can be waived through ftpolicy.main's mechanism,
# by an exception in ftpolicy.yaml (a control-plane file) or by the `waivers` of a verified
# security-approval of the same adapter signed by a member of the security team.
package ftpolicy.promotion

import rego.v1

_pr_security := input.config.teams.security if {
	is_string(input.config.teams.security)
} else := "security"

_pr_min_reviewers := input.config.datasets.min_reviewers if {
	is_number(input.config.datasets.min_reviewers)
} else := 2

_pr_max_age_days := input.config.evals.max_age_days if {
	is_number(input.config.evals.max_age_days)
} else := 90

_pr_categories := input.config.evals.required_categories if {
	is_array(input.config.evals.required_categories)
} else := ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]

_pr_high := {"high", "critical"}

_pr_chains := [c | some c in input.chains; startswith(c.subject, "adapter:")]

_pr_verified := [c | some c in _pr_chains; c.verified == true]

_pr_atts(subject, step) := [a |
	some a in input.attestations
	a.subject == subject
	a.step == step
	a.verified == true
]

_pr_who(subject, step) := {a.identity | some a in _pr_atts(subject, step)}

# The dataset's authors, from its manifest (NAME@VERSION of "dataset:NAME@VERSION").
_pr_authors(c) := {a |
	some m in input.manifests
	m.kind == "dataset"
	concat("", ["dataset:", m.data.name, "@", m.data.version]) == c.dataset
	some a in m.data.authors
}

# promotion/chain-unverified: the chain did not verify; its facts are absent.
deny contains v if {
	some c in _pr_chains
	c.verified != true
	some f in c.failures
	v := {
		"rule": "promotion/chain-unverified",
		"msg": sprintf("%s: attestation chain does not hold [%s]: %s", [c.subject, f.code, f.message]),
		"severity": "high",
		"path": c.manifest,
		"hint": "fix the chain (see `ftpolicy verify adapter`); no promotion fact of an unverified chain counts",
	}
}

deny contains v if {
	some c in _pr_chains
	c.verified != true
	count(c.failures) == 0
	v := {
		"rule": "promotion/chain-unverified",
		"msg": sprintf("%s: attestation chain is not verified", [c.subject]),
		"severity": "high",
		"path": c.manifest,
		"hint": "attest every step of the layout and run `ftpolicy verify adapter`",
	}
}

# promotion/approval-missing: a verified chain without an approving security approval.
deny contains v if {
	some c in _pr_verified
	count([a | some a in _pr_atts(c.subject, "security-approval"); a.evidence.data.decision == "approve"]) == 0
	v := {
		"rule": "promotion/approval-missing",
		"msg": sprintf("%s: no security-approval attestation approves this adapter", [c.subject]),
		"severity": "high",
		"path": c.manifest,
		"hint": "a member of the security team attests security-approval with decision approve",
	}
}

# promotion/approver-not-security: the security approver is in the security team.
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "security-approval")
	not _pr_security in a.teams
	v := {
		"rule": "promotion/approver-not-security",
		"msg": sprintf("%s: security approval signed by %s, who is not in team %s", [c.subject, a.identity, _pr_security]),
		"severity": "high",
		"path": c.manifest,
		"hint": "the security approval must be signed by a member of the security team",
	}
}

# promotion/separation-of-duties: the approver is not the trainer, the quality-eval signer
# or an author of the dataset.
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "security-approval")
	some role, people in {
		"trainer": _pr_who(c.subject, "train"),
		"quality-eval signer": _pr_who(c.subject, "quality-eval"),
		"dataset author": _pr_authors(c),
	}
	a.identity in people
	v := {
		"rule": "promotion/separation-of-duties",
		"msg": sprintf("%s: security approval signed by %s, who is also the %s", [c.subject, a.identity, role]),
		"severity": "high",
		"path": c.manifest,
		"hint": "the security approver must be independent of training, quality evaluation and the data",
	}
}

# promotion/eval-by-trainer: the security eval is not signed by whoever trained the adapter.
# A trainer who is also in the security team is a functionary of the security-eval step, so
# the layout alone lets such a signature through.
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "security-eval")
	a.identity in _pr_who(c.subject, "train")
	v := {
		"rule": "promotion/eval-by-trainer",
		"msg": sprintf("%s: security eval signed by %s, who also trained the adapter", [c.subject, a.identity]),
		"severity": "high",
		"path": c.manifest,
		"hint": "the holdout security eval must be run and signed by someone independent of training",
	}
}

_pr_reviewers(c) := {a.identity |
	some a in _pr_atts(c.dataset, "dataset-review")
	a.evidence.data.decision == "approve"
	not a.identity in _pr_authors(c)
}

# promotion/review-insufficient: enough distinct, independent reviewers approved the dataset.
deny contains v if {
	some c in _pr_verified
	count(_pr_reviewers(c)) < _pr_min_reviewers
	v := {
		"rule": "promotion/review-insufficient",
		"msg": sprintf(
			"%s: dataset %s approved by %d independent reviewer(s) %v, %d required",
			[c.subject, c.dataset, count(_pr_reviewers(c)), sort([r | some r in _pr_reviewers(c)]), _pr_min_reviewers],
		),
		"severity": "high",
		"path": c.manifest,
		"hint": "reviewers approve the dataset-review step; an author's review does not count",
	}
}

# promotion/reviewer-is-author: an author reviewed their own dataset.
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.dataset, "dataset-review")
	a.identity in _pr_authors(c)
	v := {
		"rule": "promotion/reviewer-is-author",
		"msg": sprintf("%s: %s reviewed dataset %s, which they authored", [c.subject, a.identity, c.dataset]),
		"severity": "high",
		"path": c.manifest,
		"hint": "dataset reviews must come from people who did not author the dataset version",
	}
}

_pr_evals(c) := [a | some a in _pr_atts(c.subject, "security-eval"); is_object(a.evidence.data)]

# promotion/eval-missing: a security eval covers every required category.
deny contains v if {
	some c in _pr_verified
	some category in _pr_categories
	count([r | some a in _pr_evals(c); some r in a.evidence.data.results; r.category == category]) == 0
	v := {
		"rule": "promotion/eval-missing",
		"msg": sprintf("%s: no security-eval result for category '%s'", [c.subject, category]),
		"severity": "high",
		"path": c.manifest,
		"hint": "run the registered holdout suite on this adapter and attest security-eval with all categories",
	}
}

# The registered eval-suite manifest an eval evidence names (evals/NAME/VERSION.yaml).
_pr_suites := [m | some m in input.manifests; m.kind == "eval-suite"]

_pr_registered(a) if {
	some m in _pr_suites
	m.data.name == a.evidence.data.suite.name
	m.data.version == a.evidence.data.suite.version
}

# promotion/eval-suite-unregistered: the eval ran a suite version that is registered.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	not _pr_registered(a)
	s := a.evidence.data.suite
	v := {
		"rule": "promotion/eval-suite-unregistered",
		"msg": sprintf("%s: security eval ran suite %s@%s, which is not a registered eval suite (evals/%s/%s.yaml)", [c.subject, s.name, s.version, s.name, s.version]),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "evaluate with a holdout suite registered under evals/",
	}
}

# promotion/eval-below-threshold: each score reaches the suite's threshold for its category.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	some suite in _pr_suites
	suite.data.name == a.evidence.data.suite.name
	suite.data.version == a.evidence.data.suite.version
	some r in a.evidence.data.results
	threshold := suite.data.categories[r.category].threshold
	r.score < threshold
	v := {
		"rule": "promotion/eval-below-threshold",
		"msg": sprintf(
			"%s: security eval '%s' scored %v, below the threshold %v of suite %s@%s",
			[c.subject, r.category, r.score, threshold, suite.data.name, suite.data.version],
		),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "improve the adapter and evaluate again; thresholds change only with security approval",
	}
}

# The registered suite an eval evidence names, as a manifest.
_pr_suite_of(a) := suite if {
	some suite in _pr_suites
	suite.data.name == a.evidence.data.suite.name
	suite.data.version == a.evidence.data.suite.version
}

# promotion/eval-over-refusal: where the suite limits over-refusal (benign look-alikes
# refused), the eval measured it and stayed within the limit. Not measured means denied.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	suite := _pr_suite_of(a)
	some r in a.evidence.data.results
	limit := suite.data.categories[r.category].max_over_refusal
	not _pr_within(r, limit)
	v := {
		"rule": "promotion/eval-over-refusal",
		"msg": sprintf(
			"%s: security eval '%s' over-refusal %v exceeds the limit %v of suite %s@%s (or was not measured)",
			[c.subject, r.category, object.get(r, "over_refusal", "unmeasured"), limit, suite.data.name, suite.data.version],
		),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "an adapter that refuses benign requests too often fails the gate; evaluate with the benign look-alikes",
	}
}

_pr_within(r, limit) if {
	is_number(r.over_refusal)
	r.over_refusal <= limit
}

# promotion/eval-suite-digest-mismatch: the eval used exactly the registered items.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	suite := _pr_suite_of(a)
	used := a.evidence.data.suite.digest
	used != suite.data.items.digest
	v := {
		"rule": "promotion/eval-suite-digest-mismatch",
		"msg": sprintf(
			"%s: security eval used items with digest %s, but suite %s@%s is sealed with %s",
			[c.subject, used, suite.data.name, suite.data.version, suite.data.items.digest],
		),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "run the eval on the registered items (ftpolicy eval run verifies them against the seal)",
	}
}

# promotion/eval-adapter-mismatch: the eval ran against this exact adapter digest.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	a.evidence.data.adapter.digest != c.adapter_digest
	v := {
		"rule": "promotion/eval-adapter-mismatch",
		"msg": sprintf("%s: security eval is about adapter digest %s, the trained adapter is %s", [c.subject, a.evidence.data.adapter.digest, c.adapter_digest]),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "evaluate the adapter that was trained; evidence of another adapter does not count",
	}
}

_pr_ns_per_day := ((24 * 60) * 60) * 1000000000

# RFC 3339 in UTC ("Z", optional fraction, which is ignored); regopy 1.5.2 cannot parse
# numeric offsets, so a time with an offset is not read at all (and the eval is denied).
_pr_utc(ts) if regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$`, ts)

# Evals signed before this instant (input.now minus evals.max_age_days) are too old.
_pr_oldest := _pr_parse(input.now) - (_pr_max_age_days * _pr_ns_per_day)

_pr_parse(ts) := time.parse_ns("2006-01-02T15:04:05Z", concat("", [substring(ts, 0, 19), "Z"]))

# promotion/eval-stale: the eval is no older than evals.max_age_days at input.now.
deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	_pr_utc(a.evidence.data.evaluated_at)
	_pr_parse(a.evidence.data.evaluated_at) < _pr_oldest
	v := {
		"rule": "promotion/eval-stale",
		"msg": sprintf(
			"%s: security eval from %s is older than %d days (evals.max_age_days) at %s",
			[c.subject, a.evidence.data.evaluated_at, _pr_max_age_days, input.now],
		),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "run the holdout suite again and attest a fresh security-eval",
	}
}

deny contains v if {
	some c in _pr_verified
	some a in _pr_evals(c)
	not _pr_utc(a.evidence.data.evaluated_at)
	v := {
		"rule": "promotion/eval-stale",
		"msg": sprintf("%s: security eval time %v is not a UTC time (YYYY-MM-DDTHH:MM:SSZ); its age cannot be told", [c.subject, a.evidence.data.evaluated_at]),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "record evaluated_at in UTC with a Z suffix",
	}
}

# promotion/scan-high-finding: no high or critical scan finding (adapter scan findings, dataset
# scan counts) unless waived.
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "adapter-scan")
	some f in a.evidence.data.findings
	f.severity in _pr_high
	v := {
		"rule": "promotion/scan-high-finding",
		"msg": sprintf("%s: adapter scan found %s (%s): %s", [c.subject, f.rule, f.severity, f.message]),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "fix the adapter, or have the security team waive the finding in its security approval",
	}
}

deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.dataset, "scan")
	some level in _pr_high
	n := object.get(a.evidence.data, ["counts", "by_severity", level], 0)
	n > 0
	v := {
		"rule": "promotion/scan-high-finding",
		"msg": sprintf("%s: the scan of dataset %s has %d %s finding(s)", [c.subject, c.dataset, n, level]),
		"severity": "high",
		"path": a.evidence.path,
		"hint": "clean the dataset, or have the security team waive the finding in its security approval",
	}
}

# promotion/scan-evidence-incomplete: scan evidence states its results (adapter scan: a
# findings list, empty when clean; dataset scan: counts by severity). Evidence that does
# not cannot show a clean scan, so it is denied rather than read as "no findings".
deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "adapter-scan")
	not _pr_findings_listed(a)
	v := {
		"rule": "promotion/scan-evidence-incomplete",
		"msg": sprintf("%s: the adapter-scan evidence has no findings list", [c.subject]),
		"severity": "high",
		"path": _pr_evidence_path(a),
		"hint": "attest adapter-scan with the summary written by `ftpolicy scan adapter --summary`",
	}
}

deny contains v if {
	some c in _pr_verified
	some a in _pr_atts(c.dataset, "scan")
	not _pr_counts_listed(a)
	v := {
		"rule": "promotion/scan-evidence-incomplete",
		"msg": sprintf("%s: the scan evidence of dataset %s has no counts by severity", [c.subject, c.dataset]),
		"severity": "high",
		"path": _pr_evidence_path(a),
		"hint": "attest scan with the summary written by `ftpolicy scan dataset --summary`",
	}
}

# Helpers, so that `not` covers the whole test: OPA lifts an undefined reference out of a
# negated built-in call, which would make the rule undefined instead of denying.
_pr_findings_listed(a) if is_array(a.evidence.data.findings)

_pr_counts_listed(a) if is_object(a.evidence.data.counts.by_severity)

# Where to point a finding: the evidence file, else the link, so the deny is never undefined.
_pr_evidence_path(a) := object.get(a, ["evidence", "path"], object.get(a, "link", "attestations"))

# Waivers written into a verified security approval by a member of the security team; they
# apply to that adapter's own scan evidence only (path) and only while the approval verifies.
exception contains w if {
	some c in _pr_verified
	some a in _pr_atts(c.subject, "security-approval")
	_pr_security in a.teams
	a.evidence.data.decision == "approve"
	some x in a.evidence.data.waivers
	x.rule == "promotion/scan-high-finding"
	some s in [c.subject, c.dataset]
	some step in ["adapter-scan", "scan"]
	some scanned in _pr_atts(s, step)
	w := {
		"rule": x.rule,
		"owner": a.identity,
		"reason": x.reason,
		"expires": substring(input.now, 0, 10),
		"path": scanned.evidence.path,
	}
}
