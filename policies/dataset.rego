# Dataset manifests (datasets/NAME/VERSION.yaml): provenance, licences, untrusted
# sources, immutability of published versions, lineage and shard digests.
package ftpolicy.dataset

import rego.v1

import data.ftpolicy.lib

# The dataset manifests under judgement, collected once per query.
_datasets := [m | some m in input.manifests; lib.subject(m, "dataset")]

# Without configuration every licence is refused and user-generated data is untrusted.
_allowlist := input.config.datasets.licence_allowlist if {
	is_array(input.config.datasets.licence_allowlist)
} else := []

_untrusted_kinds := input.config.datasets.untrusted_source_kinds if {
	is_array(input.config.datasets.untrusted_source_kinds)
} else := ["user-generated"]

_provenance_fields := ["sources", "collected_by", "authors", "collection", "preprocessing", "change_summary"]

# The per-manifest checks below (provenance, untrusted sources, licences, parent) look at one
# field at a time, which costs the embedded engine 15-25 microseconds per Rego statement and
# manifest. A full check therefore screens each dataset manifest first with one rule of plain
# built-in calls and runs those checks only on the manifests the screen does not clear. The
# screen is stricter than every check it stands in front of: it clears a manifest only when
# every provenance value is a non-blank string, a non-empty list or a non-empty object (with
# the same white space as lib.has_value), no source is of an untrusted kind, every licence is
# on the allowlist and every resolved reference is valid. So it never clears a manifest a
# check would deny; anything unusual (a number where text is expected, an empty preprocessing
# list, a user-generated source) only sends the manifest on to the checks.
_suspects := [m |
	untrusted := {k | some k in _untrusted_kinds}
	allowed := {l | some l in _allowlist}
	some m in _datasets
	not _screened(m, untrusted, allowed)
]

# The configured kinds and licences come in as sets and are compared with set operations:
# the embedded engine gets `not x in y` inside `every` wrong (always true).
_screened(m, untrusted, allowed) if {
	d := m.data
	count(_provenance_keys - object.keys(d)) == 0
	is_string(d.collected_by)
	trim(d.collected_by, lib.white_space) != ""
	is_string(d.change_summary)
	trim(d.change_summary, lib.white_space) != ""
	is_array(d.authors)
	count(d.authors) > 0
	is_object(d.collection)
	count(d.collection) > 0
	is_array(d.sources)
	count(d.sources) > 0
	every source in d.sources {
		is_string(source.name)
		trim(source.name, lib.white_space) != ""
		is_string(source.kind)
		trim(source.kind, lib.white_space) != ""
		is_string(source.uri)
		trim(source.uri, lib.white_space) != ""
		is_string(source.licence)
		trim(source.licence, lib.white_space) != ""
	}
	count({source.kind | some source in d.sources} & untrusted) == 0
	count({source.licence | some source in d.sources} - allowed) == 0
	is_array(d.preprocessing)
	every step in d.preprocessing {
		is_string(step.tool)
		trim(step.tool, lib.white_space) != ""
		is_string(step.version)
		trim(step.version, lib.white_space) != ""
		is_string(step.parameters_digest)
		trim(step.parameters_digest, lib.white_space) != ""
	}
	refs := object.get(m, "refs", [])
	is_array(refs)
	every r in refs {
		r.status == "valid"
	}
}

# dataset/provenance-incomplete: every provenance question has an answer.
_provenance_keys := {f | some f in _provenance_fields}

deny contains v if {
	some m in _suspects
	some field in _provenance_fields
	not _recorded(m.data, field)
	v := {
		"rule": "dataset/provenance-incomplete",
		"msg": sprintf("dataset %s@%s does not record '%s'", [m.data.name, m.data.version, field]),
		"severity": "high",
		"path": m.path,
		"pointer": concat("", ["/", field]),
		"hint": "record where the data came from, who collected it, when, and how it was processed",
	}
}

# preprocessing may be an empty list (no step was applied) but must be written down.
_recorded(doc, "preprocessing") if is_array(doc.preprocessing)

_recorded(doc, field) if {
	field != "preprocessing"
	lib.has_value(doc, field)
}

deny contains v if {
	some m in _suspects
	some i, source in m.data.sources
	some field in ["name", "kind", "uri", "licence"]
	not lib.has_value(source, field)
	v := {
		"rule": "dataset/provenance-incomplete",
		"msg": sprintf("dataset %s@%s: source #%d does not record '%s'", [m.data.name, m.data.version, i + 1, field]),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/sources/%d", [i]),
		"hint": "every source needs a name, kind, uri and licence",
	}
}

deny contains v if {
	some m in _suspects
	some i, step in m.data.preprocessing
	some field in ["tool", "version", "parameters_digest"]
	not lib.has_value(step, field)
	v := {
		"rule": "dataset/provenance-incomplete",
		"msg": sprintf("dataset %s@%s: preprocessing step #%d does not record '%s'", [m.data.name, m.data.version, i + 1, field]),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/preprocessing/%d", [i]),
		"hint": "record the tool, its version and the digest of its parameters for every step",
	}
}

# Messages join builtin results with concat, never sprintf %s: regopy 1.5 quotes strings
# that builtins produced when sprintf formats them, so the engines would disagree.

# dataset/untrusted-source: user-generated (or other configured) sources need an explicit
# scan and a dataset review before the data may be used.
deny contains v if {
	some m in _suspects
	some i, source in m.data.sources
	source.kind in _untrusted_kinds
	ref := sprintf("%s@%s", [m.data.name, m.data.version])
	some missing in _missing_reviews(ref)
	v := {
		"rule": "dataset/untrusted-source",
		"msg": concat("", [
			sprintf("dataset %s: source '%s' is %s data", [ref, source.name, source.kind]),
			" and requires scan and dataset-review attestations (missing: ", missing, ")",
		]),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/sources/%d/kind", [i]),
		"hint": "run the scan and dataset-review steps and record their attestations, or remove the source",
	}
}

_missing_reviews(ref) := {concat(", ", sort(missing))} if {
	missing := {step | some step in ["scan", "dataset-review"]; not lib.attested(ref, step)}
	count(missing) > 0
} else := set()

# dataset/licence-not-allowed: every source licence is on the configured allowlist.
deny contains v if {
	some m in _suspects
	some i, source in m.data.sources
	is_string(source.licence)
	not source.licence in _allowlist
	v := {
		"rule": "dataset/licence-not-allowed",
		"msg": concat("", [
			sprintf("dataset %s@%s: source '%s' has licence '%s', which is not on the allowlist", [m.data.name, m.data.version, source.name, source.licence]),
			" (", concat(", ", sort(_allowlist)), ")",
		]),
		"severity": "high",
		"path": m.path,
		"pointer": sprintf("/sources/%d/licence", [i]),
		"hint": "use data under an allowed licence, or have the security team add the licence to datasets.licence_allowlist in ftpolicy.yaml",
	}
}

# dataset/immutable-version: a published version file is never edited, renamed or deleted.
deny contains v if {
	some c in input.git.changed
	c.status in {"modified", "deleted", "renamed", "type-changed"}
	published := _published_path(c)
	regex.match(`^datasets/[^/]+/[^/]+\.yaml$`, published)
	v := object.union(
		{
			"rule": "dataset/immutable-version",
			"msg": sprintf("published dataset version %s was %s; dataset versions are immutable", [published, c.status]),
			"severity": "high",
			"path": c.path,
			"hint": "restore the published file and add a new version (datasets/NAME/NEW.yaml with parent set to the old version)",
		},
		_changed_line(c),
	)
}

_published_path(c) := c.old_path if c.status == "renamed"

_published_path(c) := c.path if c.status != "renamed"

# The line of the first top-level field that differs from the base version, when known.
_changed_line(c) := {"line": min(lines)} if {
	c.status == "modified"
	some m in input.manifests
	m.path == c.path
	lines := {n | some key in _changed_keys(m); n := m.lines[concat("", ["/", key])]}
	count(lines) > 0
} else := {}

_changed_keys(m) := {key | some key; value := m.data[key]; value != object.get(m.base.data, key, null)}

# dataset/parent-missing: the parent version named by a dataset exists and is valid.
# ftpolicy resolves every reference of a manifest into m.refs ({pointer, ref, path, status}):
# status "valid" (present and verified, and then also in input.manifests), "missing" or
# "invalid" (present but not verifiable: see input.problems).
deny contains v if {
	some m in _suspects
	some r in m.refs
	r.pointer == "/parent"
	r.status != "valid"
	v := {
		"rule": "dataset/parent-missing",
		"msg": sprintf(
			"dataset %s@%s names parent version %s, but %s %s",
			[m.data.name, m.data.version, m.data.parent, r.path, lib.ref_problem[r.status]],
		),
		"severity": "high",
		"path": m.path,
		"pointer": "/parent",
		"hint": "set parent to an existing version of this dataset, or to null for a first version",
	}
}

# dataset/shard-digest-mismatch: shards present locally hash to the digest in the manifest.
deny contains v if {
	some s in input.shards_verified
	s.match == false
	v := {
		"rule": "dataset/shard-digest-mismatch",
		"msg": sprintf("shard %s has sha256 %s but the manifest pins %s", [s.path, s.actual, s.expected]),
		"severity": "critical",
		"path": s.manifest,
		"pointer": s.pointer,
		"line": s.line,
		"hint": "the data changed after it was pinned: restore the reviewed shard, or publish a new dataset version",
	}
}
