# The decision of a check: every deny and warn of the ftpolicy.* packages, minus the
# violations waived by a valid, unexpired exception.
#
# Waivers ("exceptions") come from two places: input.config.exceptions (the
# policy_params.exceptions list of ftpolicy.yaml) and `exception` rules in any evaluated
# package. Each carries rule, owner, reason and expires (YYYY-MM-DD, last day it applies),
# and optionally path (only that file). input.now decides expiry, so results are repeatable.
#
# This package must not define rules named deny, warn or exception itself: it reads those
# of every other package.
package ftpolicy.main

import rego.v1

_defaults := {"adapter", "change", "dataset", "eval", "manifest", "promotion"}

# Users' packages (ftpolicy.NAME from the governed repository's policies/) are listed by
# ftpolicy in input.policy.packages; the defaults are always evaluated.
_packages := (_defaults | {p | some p in input.policy.packages}) - {"main", "lib"}

# Rules that no waiver can switch off: they protect the waivers themselves.
_unwaivable := {
	"change/control-plane", "manifest/invalid", "main/malformed-result", "main/waiver-invalid",
	"promotion/chain-unverified",
}

_today := substring(input.now, 0, 10)

_raw_deny contains v if {
	some name in _packages
	some v in data.ftpolicy[name].deny
}

_raw_warn contains v if {
	some name in _packages
	some v in data.ftpolicy[name].warn
}

_well_formed(v) if {
	is_object(v)
	is_string(v.rule)
	v.rule != ""
	is_string(v.msg)
}

_malformed contains v if {
	some name in _packages
	some kind in ["deny", "warn"]
	some value in data.ftpolicy[name][kind]
	not _well_formed(value)
	v := {
		"rule": "main/malformed-result",
		"msg": sprintf("package ftpolicy.%s produced a %s entry that is not {rule, msg, ...}: %v", [name, kind, value]),
		"severity": "high",
		"hint": "return objects with at least rule and msg; Rego v1 syntax: deny contains {...} if { ... }",
	}
}

_raw_exceptions contains w if some w in input.config.exceptions

_raw_exceptions contains w if {
	some name in _packages
	some w in data.ftpolicy[name].exception
}

_valid_waiver(w) if {
	is_object(w)
	is_string(w.rule)
	w.rule != ""
	is_string(w.owner)
	trim(w.owner, data.ftpolicy.lib.white_space) != ""
	is_string(w.reason)
	trim(w.reason, data.ftpolicy.lib.white_space) != ""
	is_string(w.expires)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, w.expires)
}

_active contains w if {
	some w in _raw_exceptions
	_valid_waiver(w)
	_today <= w.expires
	not w.rule in _unwaivable
}

_waives(w, v) if {
	w.rule == v.rule
	not w.path
}

_waives(w, v) if {
	w.rule == v.rule
	w.path == v.path
}

_waived_by(v) := [w | some w in _active; _waives(w, v)]

_deny_all contains v if {
	some v in _raw_deny
	_well_formed(v)
}

_deny_all contains v if some v in _malformed

_deny_all contains v if some v in _waiver_problems

_warn_all contains v if {
	some v in _raw_warn
	_well_formed(v)
}

_waiver_problems contains v if {
	some w in _raw_exceptions
	not _valid_waiver(w)
	v := {
		"rule": "main/waiver-invalid",
		"msg": sprintf("exception %v is missing rule, owner, reason or expires (YYYY-MM-DD) and does not apply", [w]),
		"severity": "medium",
		"hint": "give every exception rule, owner, reason and expires",
	}
}

_warn_all contains v if {
	some w in _raw_exceptions
	_valid_waiver(w)
	w.expires < _today
	v := {
		"rule": "main/waiver-expired",
		"msg": sprintf("exception for %s (owner %s) expired on %s and no longer applies", [w.rule, w.owner, w.expires]),
		"severity": "medium",
		"hint": "fix the violation, or renew the exception with a new expiry date",
	}
}

_warn_all contains v if {
	some w in _raw_exceptions
	_valid_waiver(w)
	w.rule in _unwaivable
	v := {
		"rule": "main/waiver-not-allowed",
		"msg": sprintf("exception for %s (owner %s) is ignored: that rule cannot be waived", [w.rule, w.owner]),
		"severity": "medium",
	}
}

violations := sort([v | some v in _deny_all; count(_waived_by(v)) == 0])

warnings := sort([v | some v in _warn_all; count(_waived_by(v)) == 0])

_waived contains {"violation": v, "waivers": _waived_by(v)} if {
	some v in (_deny_all | _warn_all)
	count(_waived_by(v)) > 0
}

waived := sort([w | some w in _waived])

decision := {
	"schema": "ftpolicy/decision/v1",
	"allow": count(violations) == 0,
	"deny": violations,
	"warn": warnings,
	"waived": waived,
	"packages": sort([p | some p in _packages]),
}
