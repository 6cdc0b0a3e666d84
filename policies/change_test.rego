package ftpolicy.change_test

import rego.v1

import data.ftpolicy.change

_ch_deny(changed) := denies if {
	denies := change.deny with input.git.changed as changed with input.config as {}
}

_ch_paths(denies) := {v.path | some v in denies; v.rule == "change/control-plane"}

test_control_plane_files_denied if {
	changed := [
		{"status": "modified", "path": "ftpolicy.yaml"},
		{"status": "added", "path": "identities/eve.yaml"},
		{"status": "deleted", "path": "layouts/default.layout"},
		{"status": "modified", "path": "policies/extra.rego"},
	]
	_ch_paths(_ch_deny(changed)) == {"ftpolicy.yaml", "identities/eve.yaml", "layouts/default.layout", "policies/extra.rego"}
}

test_data_changes_are_not_control_plane if {
	changed := [
		{"status": "added", "path": "datasets/chats/2.0.0.yaml"},
		{"status": "modified", "path": "README.md"},
		{"status": "added", "path": "policies.md"},
		{"status": "added", "path": "docs/ftpolicy.yaml"},
	]
	count(_ch_deny(changed)) == 0
}

test_moving_a_policy_out_is_control_plane if {
	changed := [{"status": "renamed", "path": "attic/extra.rego", "old_path": "policies/extra.rego"}]
	_ch_paths(_ch_deny(changed)) == {"policies/extra.rego"}
}

test_configured_extra_policies_folder_is_control_plane if {
	changed := [{"status": "added", "path": "rego/team.rego"}]
	denies := change.deny with input.git.changed as changed with input.config as {"engine": {"extra_policies": "rego"}}
	_ch_paths(denies) == {"rego/team.rego"}
}
