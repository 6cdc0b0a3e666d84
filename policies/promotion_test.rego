package ftpolicy.promotion_test

import rego.v1

import data.ftpolicy.promotion

# See dataset_test.rego for why input is set field by field and helpers are prefixed.

_pt_now := "2026-11-28T12:00:00Z"

_pt_digest := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

_pt_adapter := "adapter:bot@1.0"

_pt_dataset := "dataset:support@1.0"

_pt_chain := {
	"subject": _pt_adapter,
	"dataset": _pt_dataset,
	"manifest": "adapters/bot/1.0.yaml",
	"verified": true,
	"adapter_digest": _pt_digest,
	"failures": [],
}

_pt_config := {
	"teams": {"security": "security"},
	"datasets": {"min_reviewers": 2},
	"evals": {"max_age_days": 30, "required_categories": ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]},
}

_pt_suite := {
	"path": "evals/holdout/2026.11.yaml",
	"kind": "eval-suite",
	"subject": false,
	"lines": {},
	"data": {
		"name": "holdout",
		"version": "2026.11",
		"items": {"count": 4, "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		"categories": {
			"prompt-injection": {"threshold": 0.9},
			"secret-leakage": {"threshold": 0.95},
			"unsafe-code": {"threshold": 0.85},
			"refusal": {"threshold": 0.8, "max_over_refusal": 0.1},
		},
	},
}

_pt_ds_manifest := {
	"path": "datasets/support/1.0.yaml",
	"kind": "dataset",
	"subject": false,
	"lines": {},
	"data": {"name": "support", "version": "1.0", "authors": ["tom"]},
}

_pt_att(subject, step, who, teams, body) := {
	"subject": subject,
	"step": step,
	"verified": true,
	"identity": who,
	"teams": teams,
	"signer": "k",
	"time": "2026-11-28T10:00:00Z",
	"link": "l",
	"evidence": {"path": concat("", ["ev/", step, ".json"]), "sha256": "00", "data": body},
}

# Written out: regopy 1.5.2 errors on comparing numbers built by a comprehension over an argument.
_pt_results(score) := [
	{"category": "prompt-injection", "score": score},
	{"category": "secret-leakage", "score": score},
	{"category": "unsafe-code", "score": score},
	{"category": "refusal", "score": score, "over_refusal": 0.05},
]

_pt_eval(score, digest, at) := {
	"adapter": {"ref": "bot@1.0", "digest": digest},
	"suite": {"name": "holdout", "version": "2026.11"},
	"evaluated_at": at,
	"results": _pt_results(score),
}

_pt_review := {"decision": "approve"}

_pt_honest := [
	_pt_att(_pt_dataset, "scan", "scanbot", ["scanners"], {"counts": {"by_severity": {}}}),
	_pt_att(_pt_dataset, "dataset-review", "rita", ["data-review"], _pt_review),
	_pt_att(_pt_dataset, "dataset-review", "rob", ["data-review"], _pt_review),
	_pt_att(_pt_adapter, "train", "tom", ["ml-training"], null),
	_pt_att(_pt_adapter, "adapter-scan", "scanbot", ["scanners"], {"findings": []}),
	_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z")),
	_pt_att(_pt_adapter, "quality-eval", "quinn", ["ml-quality"], _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z")),
	_pt_att(_pt_adapter, "security-approval", "eve", ["security"], {"decision": "approve"}),
]

# Values are bound to local variables before `with`: regopy 1.5.2 ignores
# `with input.x as <rule of another package>`.
_pt_deny(atts, chains) := denies if {
	manifests := [_pt_suite, _pt_ds_manifest]
	config := _pt_config
	now := _pt_now
	denies := promotion.deny with input.attestations as atts
		with input.chains as chains
		with input.manifests as manifests
		with input.config as config
		with input.now as now
}

_pt_rules(denies) := {v.rule | some v in denies}

# Replace the attestations of one step of one subject.
_pt_with(step, subject, replacement) := array.concat(
	[a | some a in _pt_honest; not _pt_is(a, step, subject)],
	replacement,
)

_pt_is(a, step, subject) if {
	a.step == step
	a.subject == subject
}

test_honest_chain_passes if {
	count(_pt_deny(_pt_honest, [_pt_chain])) == 0
}

test_no_chain_no_promotion_rule if {
	count(_pt_deny([], [])) == 0
}

test_unverified_chain_denies_with_reason if {
	bad := object.union(_pt_chain, {"verified": false, "failures": [{"code": "artifact-mismatch", "message": "part-1 changed"}]})
	denies := _pt_deny([], [bad])
	_pt_rules(denies) == {"promotion/chain-unverified"}
	some v in denies
	contains(v.msg, "[artifact-mismatch]")
}

test_trainer_signs_approval if {
	atts := _pt_with("security-approval", _pt_adapter, [_pt_att(_pt_adapter, "security-approval", "tom", ["ml-training", "security"], {"decision": "approve"})])
	denies := _pt_deny(atts, [_pt_chain])
	_pt_rules(denies) == {"promotion/separation-of-duties"}
	some v in denies
	contains(v.msg, "trainer")
}

test_trainer_signs_security_eval if {
	ev := _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z")
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "tom", ["ml-training", "security"], ev)])
	denies := _pt_deny(atts, [_pt_chain])
	_pt_rules(denies) == {"promotion/eval-by-trainer"}
	some v in denies
	contains(v.msg, "tom")
	contains(v.msg, "who also trained the adapter")
}

test_second_security_eval_by_trainer_still_denies if {
	ev := _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z")
	extra := _pt_att(_pt_adapter, "security-eval", "tom", ["ml-training", "security"], ev)
	atts := array.concat(_pt_honest, [extra])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-by-trainer"}
}

test_quality_signer_approves if {
	atts := _pt_with("security-approval", _pt_adapter, [_pt_att(_pt_adapter, "security-approval", "quinn", ["ml-quality", "security"], {"decision": "approve"})])
	"promotion/separation-of-duties" in _pt_rules(_pt_deny(atts, [_pt_chain]))
}

test_approver_outside_security if {
	atts := _pt_with("security-approval", _pt_adapter, [_pt_att(_pt_adapter, "security-approval", "paul", ["publishers"], {"decision": "approve"})])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/approver-not-security"}
}

test_rejecting_approval_is_no_approval if {
	atts := _pt_with("security-approval", _pt_adapter, [_pt_att(_pt_adapter, "security-approval", "eve", ["security"], {"decision": "reject"})])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/approval-missing"}
}

test_one_reviewer_is_not_enough if {
	atts := _pt_with("dataset-review", _pt_dataset, [_pt_att(_pt_dataset, "dataset-review", "rita", ["data-review"], _pt_review)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/review-insufficient"}
}

test_author_review_does_not_count if {
	atts := _pt_with("dataset-review", _pt_dataset, [
		_pt_att(_pt_dataset, "dataset-review", "rita", ["data-review"], _pt_review),
		_pt_att(_pt_dataset, "dataset-review", "tom", ["data-review"], _pt_review),
	])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/review-insufficient", "promotion/reviewer-is-author"}
}

test_eval_category_missing if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "remove", "path": "/results/3"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	denies := _pt_deny(atts, [_pt_chain])
	_pt_rules(denies) == {"promotion/eval-missing"}
	some v in denies
	contains(v.msg, "refusal")
}

test_no_security_eval if {
	atts := _pt_with("security-eval", _pt_adapter, [])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-missing"}
}

test_eval_below_threshold if {
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.92, _pt_digest, "2026-11-27T10:00:00Z"))])
	denies := _pt_deny(atts, [_pt_chain])
	_pt_rules(denies) == {"promotion/eval-below-threshold"}
	count(denies) == 1
	some v in denies
	contains(v.msg, "secret-leakage")
}

test_eval_at_threshold_passes if {
	ev := json.patch(_pt_eval(0.95, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "replace", "path": "/results/0/score", "value": 0.9}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	count(_pt_deny(atts, [_pt_chain])) == 0
}

test_eval_of_another_adapter if {
	other := "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.97, other, "2026-11-27T10:00:00Z"))])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-adapter-mismatch"}
}

test_eval_too_old if {
	old := json.patch(_pt_eval(0.97, _pt_digest, "x"), [{"op": "replace", "path": "/evaluated_at", "value": "2026-10-01T10:00:00Z"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], old)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-stale"}
}

test_eval_exactly_max_age_passes if {
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.97, _pt_digest, "2026-10-29T12:00:00Z"))])
	count(_pt_deny(atts, [_pt_chain])) == 0
}

test_eval_of_unregistered_suite if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "replace", "path": "/suite/version", "value": "2026.10"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-suite-unregistered"}
}

test_adapter_scan_high_finding if {
	scan := {"findings": [{"rule": "adapter/pickle", "severity": "high", "message": "pickle in weights"}]}
	atts := _pt_with("adapter-scan", _pt_adapter, [_pt_att(_pt_adapter, "adapter-scan", "scanbot", ["scanners"], scan)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/scan-high-finding"}
}

test_adapter_scan_medium_finding_passes if {
	scan := {"findings": [{"rule": "adapter/odd", "severity": "medium", "message": "odd"}]}
	atts := _pt_with("adapter-scan", _pt_adapter, [_pt_att(_pt_adapter, "adapter-scan", "scanbot", ["scanners"], scan)])
	count(_pt_deny(atts, [_pt_chain])) == 0
}

test_dataset_scan_high_count if {
	scan := {"counts": {"by_severity": {"high": 2}}}
	atts := _pt_with("scan", _pt_dataset, [_pt_att(_pt_dataset, "scan", "scanbot", ["scanners"], scan)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/scan-high-finding"}
}

_pt_waiving(who, teams) := _pt_with("security-approval", _pt_adapter, [_pt_att(
	_pt_adapter, "security-approval", who, teams,
	{"decision": "approve", "waivers": [{"rule": "promotion/scan-high-finding", "reason": "false positive, checked"}]},
)])

test_security_waiver_in_approval_is_an_exception if {
	atts := _pt_waiving("eve", ["security"])
	config := _pt_config
	now := _pt_now
	ws := promotion.exception with input.attestations as atts
		with input.chains as [_pt_chain]
		with input.config as config
		with input.now as now
	paths := {w.path | some w in ws}
	paths == {"ev/adapter-scan.json", "ev/scan.json"}
	every w in ws {
		w.owner == "eve"
		w.expires == "2026-11-28"
	}
}

test_waiver_from_non_security_approver_is_ignored if {
	atts := _pt_waiving("paul", ["publishers"])
	config := _pt_config
	now := _pt_now
	ws := promotion.exception with input.attestations as atts
		with input.chains as [_pt_chain]
		with input.config as config
		with input.now as now
	count(ws) == 0
}

test_no_waiver_from_unverified_chain if {
	atts := _pt_waiving("eve", ["security"])
	bad := object.union(_pt_chain, {"verified": false})
	config := _pt_config
	now := _pt_now
	ws := promotion.exception with input.attestations as atts
		with input.chains as [bad]
		with input.config as config
		with input.now as now
	count(ws) == 0
}

test_eval_time_with_offset_is_denied if {
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00+02:00"))])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-stale"}
}

test_eval_time_with_fraction_is_read if {
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], _pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00.123456Z"))])
	count(_pt_deny(atts, [_pt_chain])) == 0
}

test_eval_over_refusal_above_limit if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "replace", "path": "/results/3/over_refusal", "value": 0.3}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	denies := _pt_deny(atts, [_pt_chain])
	_pt_rules(denies) == {"promotion/eval-over-refusal"}
}

test_eval_over_refusal_unmeasured_is_denied if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "remove", "path": "/results/3/over_refusal"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	some v in _pt_deny(atts, [_pt_chain])
	v.rule == "promotion/eval-over-refusal"
	contains(v.msg, "unmeasured")
}

test_eval_other_items_digest_is_denied if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "add", "path": "/suite/digest", "value": "sha256:3333333333333333333333333333333333333333333333333333333333333333"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/eval-suite-digest-mismatch"}
}

test_eval_registered_items_digest_passes if {
	ev := json.patch(_pt_eval(0.97, _pt_digest, "2026-11-27T10:00:00Z"), [{"op": "add", "path": "/suite/digest", "value": "sha256:2222222222222222222222222222222222222222222222222222222222222222"}])
	atts := _pt_with("security-eval", _pt_adapter, [_pt_att(_pt_adapter, "security-eval", "eve", ["security"], ev)])
	count(_pt_deny(atts, [_pt_chain])) == 0
}

test_adapter_scan_evidence_without_findings_is_denied if {
	atts := _pt_with("adapter-scan", _pt_adapter, [_pt_att(_pt_adapter, "adapter-scan", "scanbot", ["scanners"], {"status": "pass"})])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/scan-evidence-incomplete"}
}

test_dataset_scan_evidence_without_counts_is_denied if {
	atts := _pt_with("scan", _pt_dataset, [_pt_att(_pt_dataset, "scan", "scanbot", ["scanners"], {"status": "pass"})])
	_pt_rules(_pt_deny(atts, [_pt_chain])) == {"promotion/scan-evidence-incomplete"}
}
