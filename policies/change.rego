# Change control: files that decide what the gate enforces (ftpolicy.yaml, identities/,
# layouts/, policies/) may only change with security-team approval.
package ftpolicy.change

import rego.v1

import data.ftpolicy.lib

# change/control-plane: a control-plane file was added, changed, moved or deleted.
deny contains v if {
	some c in input.git.changed
	some p in _paths(c)
	lib.control_plane(p)
	v := {
		"rule": "change/control-plane",
		"msg": sprintf(
			"control-plane file %s was %s: this needs security-team approval (approval attestations are not yet supported, so the change is denied)",
			[p, c.status],
		),
		"severity": "high",
		"path": p,
		"hint": "split control-plane edits into their own pull request for the security team to approve",
	}
}

_paths(c) := {c.path} if not c.old_path

_paths(c) := {c.path, c.old_path} if c.old_path
