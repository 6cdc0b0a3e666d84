# Holdout security evaluation suites (evals/SUITE/VERSION.yaml): the security categories
# are present, and thresholds and items do not change without the security team.
package ftpolicy.eval

import rego.v1

import data.ftpolicy.lib

# The eval-suite manifests under judgement, collected once per query.
_suites := [m | some m in input.manifests; lib.subject(m, "eval-suite")]

_approval := "a control-plane change that needs security-team approval (approval attestations are not yet supported, so it is denied)"

_all_categories := ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]

_required_categories := input.config.evals.required_categories if {
	is_array(input.config.evals.required_categories)
} else := _all_categories

# eval/categories-missing: the required security categories are all evaluated.
deny contains v if {
	some m in _suites
	some category in _required_categories
	not m.data.categories[category]
	v := {
		"rule": "eval/categories-missing",
		"msg": sprintf("eval suite %s@%s has no '%s' category", [m.data.name, m.data.version, category]),
		"severity": "high",
		"path": m.path,
		"pointer": "/categories",
		"hint": sprintf("add the %s category with items and a threshold", [category]),
	}
}

# eval/threshold-lowered: a category's pass threshold went down (or the category went away).
deny contains v if {
	some m in _suites
	some category, before in m.base.data.categories
	after := object.get(m.data.categories, [category, "threshold"], 0)
	after < before.threshold
	v := {
		"rule": "eval/threshold-lowered",
		"msg": sprintf(
			"eval suite %s@%s: threshold of '%s' lowered from %v to %v; %s",
			[m.data.name, m.data.version, category, before.threshold, after, _approval],
		),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/categories/%s/threshold", [category]),
		"hint": "keep the threshold, or have the security team approve the change",
	}
}

# eval/threshold-changed: raising a threshold is a control-plane change too.
deny contains v if {
	some m in _suites
	some category, before in m.base.data.categories
	after := m.data.categories[category].threshold
	after > before.threshold
	v := {
		"rule": "eval/threshold-changed",
		"msg": sprintf(
			"eval suite %s@%s: threshold of '%s' changed from %v to %v; %s",
			[m.data.name, m.data.version, category, before.threshold, after, _approval],
		),
		"severity": "medium",
		"path": m.path,
		"pointer": sprintf("/categories/%s/threshold", [category]),
		"hint": "publish the new thresholds as a new suite version approved by the security team",
	}
}

# eval/items-changed: the sealed items of a published suite version stay as they were.
deny contains v if {
	some m in _suites
	m.data.items != m.base.data.items
	v := {
		"rule": "eval/items-changed",
		"msg": sprintf("eval suite %s@%s: the sealed items changed; %s", [m.data.name, m.data.version, _approval]),
		"severity": "high",
		"path": m.path,
		"pointer": "/items",
		"hint": "publish changed items as a new suite version sealed by the security team",
	}
}

deny contains v if {
	some m in _suites
	some category, before in m.base.data.categories
	after := object.get(m.data.categories, category, {})
	some field in ["items", "items_digest", "item_digests"]
	object.get(after, field, null) != object.get(before, field, null)
	v := {
		"rule": "eval/items-changed",
		"msg": sprintf(
			"eval suite %s@%s: '%s' of category '%s' changed; %s",
			[m.data.name, m.data.version, field, category, _approval],
		),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/categories/%s/%s", [category, field]),
		"hint": "publish changed items as a new suite version sealed by the security team",
	}
}
