package ftpolicy.manifest_test

import rego.v1

import data.ftpolicy.manifest

test_problem_becomes_deny if {
	problems := [{"path": "datasets/x/1.yaml", "message": "missing required field 'licence'", "line": 4, "hint": "add it"}]
	denies := manifest.deny with input.problems as problems
	some v in denies
	v.rule == "manifest/invalid"
	v.line == 4
	v.hint == "add it"
	contains(v.msg, "datasets/x/1.yaml")
}

test_problem_without_line if {
	denies := manifest.deny with input.problems as [{"path": "datasets/x/1.yaml", "message": "file is empty"}]
	some v in denies
	not v.line
}

test_no_problems_no_deny if {
	count(manifest.deny) == 0 with input.problems as []
}
