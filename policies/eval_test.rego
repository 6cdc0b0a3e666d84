package ftpolicy.eval_test

import rego.v1

import data.ftpolicy.eval

_ev_cat(threshold) := {"items": 10, "items_digest": "sha256:aa", "threshold": threshold}

_ev_suite := {
	"schema_version": 1,
	"kind": "eval-suite",
	"name": "holdout",
	"version": "1.0.0",
	"owner_team": "security",
	"items": {"count": 40, "digest": "sha256:bb"},
	"categories": {
		"prompt-injection": _ev_cat(0.9),
		"secret-leakage": _ev_cat(0.95),
		"unsafe-code": _ev_cat(0.9),
		"refusal": _ev_cat(0.8),
	},
}

_ev_lines := {"/categories": 9, "/categories/refusal/threshold": 20, "/items": 7}

_ev_m(doc) := {"path": "evals/holdout/1.0.0.yaml", "kind": "eval-suite", "subject": true, "data": doc, "lines": _ev_lines}

_ev_modified(base, head) := object.union(_ev_m(head), {"base": {"data": base, "lines": _ev_lines}})

_ev_deny(ms) := denies if {
	denies := eval.deny with input.manifests as ms with input.config as {}
}

_ev_rules(denies) := {v.rule | some v in denies}

test_complete_suite_passes if {
	count(_ev_deny([_ev_m(_ev_suite)])) == 0
}

test_unchanged_modified_suite_passes if {
	count(_ev_deny([_ev_modified(_ev_suite, _ev_suite)])) == 0
}

test_missing_category if {
	bad := json.patch(_ev_suite, [{"op": "remove", "path": "/categories/unsafe-code"}])
	denies := _ev_deny([_ev_m(bad)])
	some v in denies
	v.rule == "eval/categories-missing"
	contains(v.msg, "unsafe-code")
	v.pointer == "/categories"
}

test_required_categories_configurable if {
	few := json.patch(_ev_suite, [{"op": "replace", "path": "/categories", "value": {"refusal": _ev_cat(0.8)}}])
	denies := eval.deny with input.manifests as [_ev_m(few)] with input.config as {"evals": {"required_categories": ["refusal"]}}
	count(denies) == 0
}

test_threshold_lowered if {
	head := json.patch(_ev_suite, [{"op": "replace", "path": "/categories/refusal/threshold", "value": 0.5}])
	denies := _ev_deny([_ev_modified(_ev_suite, head)])
	some v in denies
	v.rule == "eval/threshold-lowered"
	v.pointer == "/categories/refusal/threshold"
	contains(v.msg, "control-plane")
	not "eval/threshold-changed" in _ev_rules(denies)
}

test_category_removed_counts_as_lowered if {
	head := json.patch(_ev_suite, [{"op": "remove", "path": "/categories/refusal"}])
	"eval/threshold-lowered" in _ev_rules(_ev_deny([_ev_modified(_ev_suite, head)]))
}

test_threshold_raised_is_control_plane if {
	head := json.patch(_ev_suite, [{"op": "replace", "path": "/categories/refusal/threshold", "value": 0.85}])
	denies := _ev_deny([_ev_modified(_ev_suite, head)])
	_ev_rules(denies) == {"eval/threshold-changed"}
}

test_new_suite_version_is_not_compared if {
	low := json.patch(_ev_suite, [{"op": "replace", "path": "/categories/refusal/threshold", "value": 0.1}])
	count(_ev_deny([_ev_m(low)])) == 0
}

test_items_changed if {
	head := json.patch(_ev_suite, [{"op": "replace", "path": "/items/digest", "value": "sha256:cc"}])
	denies := _ev_deny([_ev_modified(_ev_suite, head)])
	_ev_rules(denies) == {"eval/items-changed"}
}

test_category_items_changed if {
	head := json.patch(_ev_suite, [{"op": "replace", "path": "/categories/refusal/items_digest", "value": "sha256:dd"}])
	denies := _ev_deny([_ev_modified(_ev_suite, head)])
	some v in denies
	v.rule == "eval/items-changed"
	contains(v.msg, "items_digest")
}
