# Manifests that could not be verified (unreadable, invalid YAML, schema violations) are
# absent from input.manifests and listed in input.problems instead.
package ftpolicy.manifest

import rego.v1

# manifest/invalid: a manifest touched by the change, or referenced by one, is not valid.
deny contains v if {
	some p in input.problems
	v := object.union(
		{
			"rule": "manifest/invalid",
			"msg": sprintf("%s could not be verified: %s", [p.path, p.message]),
			"severity": "high",
			"path": p.path,
		},
		_optional(p),
	)
}

_optional(p) := {k: p[k] | some k in {"line", "hint"}; p[k] != null}
