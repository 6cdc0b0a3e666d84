package ftpolicy.main_test

import rego.v1

import data.ftpolicy.main

# See dataset_test.rego for why input is set field by field and helpers are prefixed.

_mn_now := "2026-06-01T12:00:00Z"

_mn_decide(fixture, exceptions) := decision if {
	now := _mn_now
	packages := ["fixture"]
	config := {"exceptions": exceptions}
	decision := main.decision with input.fixture as fixture
		with input.config as config
		with input.now as now
		with input.policy.packages as packages
		with input.manifests as []
		with input.git.changed as []
}

_mn_rules(vs) := {v.rule | some v in vs}

_mn_waiver(expires) := {"rule": "fixture/deny", "owner": "alice", "reason": "vendor fix due", "expires": expires}

test_no_violation_allows if {
	d := _mn_decide({}, [])
	d.allow == true
	d.deny == []
	d.warn == []
	d.schema == "ftpolicy/decision/v1"
}

test_user_package_deny_and_warn_are_collected if {
	d := _mn_decide({"deny": true, "warn": true}, [])
	d.allow == false
	_mn_rules(d.deny) == {"fixture/deny"}
	_mn_rules(d.warn) == {"fixture/warn"}
	"fixture" in d.packages
	"dataset" in d.packages
}

test_default_packages_are_collected if {
	problems := [{"path": "datasets/x/1.yaml", "message": "bad"}]
	now := _mn_now
	d := main.decision with input.problems as problems with input.now as now
	_mn_rules(d.deny) == {"manifest/invalid"}
}

test_unlisted_package_is_not_collected if {
	now := _mn_now
	d := main.decision with input.fixture.deny as true with input.now as now
	d.deny == []
}

test_valid_waiver_moves_violation_to_waived if {
	d := _mn_decide({"deny": true}, [_mn_waiver("2026-06-01")])
	d.allow == true
	d.deny == []
	some w in d.waived
	w.violation.rule == "fixture/deny"
	w.waivers[0].owner == "alice"
}

test_expired_waiver_does_not_apply if {
	d := _mn_decide({"deny": true}, [_mn_waiver("2026-05-31")])
	d.allow == false
	_mn_rules(d.deny) == {"fixture/deny"}
	"main/waiver-expired" in _mn_rules(d.warn)
}

test_waiver_without_owner_is_invalid if {
	waiver := object.remove(_mn_waiver("2027-01-01"), ["owner"])
	d := _mn_decide({"deny": true}, [waiver])
	_mn_rules(d.deny) == {"fixture/deny", "main/waiver-invalid"}
}

test_waiver_with_bad_date_is_invalid if {
	d := _mn_decide({"deny": true}, [_mn_waiver("next year")])
	"main/waiver-invalid" in _mn_rules(d.deny)
}

test_path_scoped_waiver if {
	other := object.union(_mn_waiver("2027-01-01"), {"path": "other.yaml"})
	d1 := _mn_decide({"deny": true}, [other])
	_mn_rules(d1.deny) == {"fixture/deny"}
	same := object.union(_mn_waiver("2027-01-01"), {"path": "a.yaml"})
	d2 := _mn_decide({"deny": true}, [same])
	d2.deny == []
}

test_control_plane_cannot_be_waived if {
	waiver := {"rule": "change/control-plane", "owner": "mallory", "reason": "trust me", "expires": "2099-01-01"}
	now := _mn_now
	config := {"exceptions": [waiver]}
	changed := [{"status": "modified", "path": "ftpolicy.yaml"}]
	d := main.decision with input.config as config with input.now as now with input.git.changed as changed
	_mn_rules(d.deny) == {"change/control-plane"}
	"main/waiver-not-allowed" in _mn_rules(d.warn)
}

test_exception_rule_in_a_package_applies if {
	d := _mn_decide({"deny": true, "rego_exception": true}, [])
	d.deny == []
	count(d.waived) == 1
}

test_malformed_result_denies if {
	d := _mn_decide({"malformed": true}, [])
	d.allow == false
	_mn_rules(d.deny) == {"main/malformed-result"}
}
