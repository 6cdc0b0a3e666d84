package ftpolicy.dataset_test

import rego.v1

import data.ftpolicy.dataset

# Tests set input field by field (`with input.manifests as ...`): the embedded engine
# (regopy 1.5) crashes on `with input as {...}` when the rule calls into another package.
# Helper names carry a per-package prefix: regopy mixes up same-named functions of
# different arity across packages.

_ds_ds := {
	"schema_version": 1,
	"kind": "dataset",
	"name": "chats",
	"version": "2.0.0",
	"record_format": "chat",
	"parent": "1.0.0",
	"change_summary": "more tickets",
	"sources": [{"name": "helpdesk", "kind": "internal", "uri": "s3://corp/helpdesk", "licence": "internal"}],
	"collected_by": "alice",
	"authors": ["alice"],
	"collection": {"start": "2026-01-01", "end": "2026-02-01"},
	"preprocessing": [{"tool": "redact", "version": "1.0", "parameters_digest": "sha256:aa"}],
	"shards": [{"path": "data/a.jsonl", "sha256": "ab", "bytes": 1, "records": 1, "format": "jsonl"}],
}

_ds_parent := json.patch(_ds_ds, [{"op": "replace", "path": "/version", "value": "1.0.0"}, {"op": "replace", "path": "/parent", "value": null}])

_ds_m(doc, subject) := _ds_m_parent(doc, subject, "valid")

# A manifest entry as ftpolicy builds it: refs carries the resolved parent reference.
_ds_m_parent(doc, subject, status) := {
	"path": sprintf("datasets/%s/%s.yaml", [doc.name, doc.version]),
	"kind": "dataset",
	"subject": subject,
	"data": doc,
	"lines": {"/parent": 7, "/collected_by": 14, "/change_summary": 8},
	"refs": _ds_parent_refs(doc, status),
}

_ds_parent_refs(doc, status) := [{"pointer": "/parent", "ref": concat("@", [doc.name, doc.parent]), "path": sprintf("datasets/%s/%s.yaml", [doc.name, doc.parent]), "status": status}] if {
	is_string(doc.parent)
} else := []

_ds_config := {"datasets": {"licence_allowlist": ["internal", "CC-BY-4.0"], "untrusted_source_kinds": ["user-generated"]}}

_ds_with_parent(doc) := [_ds_m(doc, true), _ds_m(_ds_parent, false)]

_ds_source(kind, licence) := [{"name": "src", "kind": kind, "uri": "https://example.invalid/src", "licence": licence}]

# Bind every value to a local before `with`: regopy 1.5 ignores `with ... as data.rule`.
_ds_run(manifests, config, changed, shards, attestations) := denies if {
	denies := dataset.deny with input.manifests as manifests
		with input.config as config
		with input.git.changed as changed
		with input.shards_verified as shards
		with input.attestations as attestations
}

_ds_deny(manifests) := _ds_run(manifests, _ds_config, [], [], [])

_ds_rules(denies) := {v.rule | some v in denies}

test_clean_dataset_passes if {
	count(_ds_deny(_ds_with_parent(_ds_ds))) == 0
}

test_referenced_manifests_are_not_judged if {
	bad := json.patch(_ds_parent, [{"op": "replace", "path": "/collected_by", "value": ""}])
	count(_ds_deny([_ds_m(bad, false)])) == 0
}

test_provenance_missing_collector if {
	bad := json.patch(_ds_ds, [{"op": "remove", "path": "/collected_by"}])
	some v in _ds_deny(_ds_with_parent(bad))
	v.rule == "dataset/provenance-incomplete"
	contains(v.msg, "collected_by")
	v.path == "datasets/chats/2.0.0.yaml"
}

test_provenance_blank_source_licence if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("internal", " ")}])
	"dataset/provenance-incomplete" in _ds_rules(_ds_deny(_ds_with_parent(bad)))
}

test_provenance_preprocessing_step_incomplete if {
	bad := json.patch(_ds_ds, [{"op": "remove", "path": "/preprocessing/0/parameters_digest"}])
	some v in _ds_deny(_ds_with_parent(bad))
	v.rule == "dataset/provenance-incomplete"
	contains(v.msg, "parameters_digest")
}

test_provenance_empty_preprocessing_is_recorded if {
	ok := json.patch(_ds_ds, [{"op": "replace", "path": "/preprocessing", "value": []}])
	count(_ds_deny(_ds_with_parent(ok))) == 0
}

# The screen in front of the per-manifest checks (dataset._suspects) clears a complete,
# trusted, allowed manifest with a valid parent, and never a blank one, whatever white space
# makes it blank (the untrusted-source, licence and parent tests above cover the rest).
test_provenance_screen_clears_complete_manifest if {
	manifests := _ds_with_parent(_ds_ds)
	config := _ds_config
	count(dataset._suspects) == 0 with input.manifests as manifests with input.config as config
}

test_provenance_screen_keeps_text_mentioning_null if {
	ok := json.patch(_ds_ds, [{"op": "replace", "path": "/change_summary", "value": "nullable fields {} []"}])
	count(_ds_deny(_ds_with_parent(ok))) == 0
}

# Every character trim_space removes (Go's unicode.IsSpace), base64-encoded because the
# engines read escapes in Rego string literals differently.
_ds_white_space_base64 := [
	"IA==", "CQ==", "Cg==", "DQ==", "DA==", "Cw==", "woU=", "wqA=", "4ZqA", "4oCA", "4oCB",
	"4oCC", "4oCD", "4oCE", "4oCF", "4oCG", "4oCH", "4oCI", "4oCJ", "4oCK", "4oCo", "4oCp",
	"4oCv", "4oGf", "44CA",
]

test_provenance_white_space_only_values_are_blank if {
	every b in _ds_white_space_base64 {
		blank := concat("", [base64.decode(b), base64.decode(b)])
		_ds_blank_collector_denied(blank)
		_ds_blank_licence_denied(blank)
		_ds_blank_tool_denied(blank)
	}
}

_ds_blank_collector_denied(blank) if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/collected_by", "value": blank}])
	"dataset/provenance-incomplete" in _ds_rules(_ds_deny(_ds_with_parent(bad)))
}

_ds_blank_licence_denied(blank) if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("internal", blank)}])
	"dataset/provenance-incomplete" in _ds_rules(_ds_deny(_ds_with_parent(bad)))
}

_ds_blank_tool_denied(blank) if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/preprocessing/0/tool", "value": blank}])
	"dataset/provenance-incomplete" in _ds_rules(_ds_deny(_ds_with_parent(bad)))
}

test_provenance_empty_values_are_blank if {
	every patch in [
		{"op": "replace", "path": "/authors", "value": []},
		{"op": "replace", "path": "/collection", "value": {}},
		{"op": "replace", "path": "/change_summary", "value": ""},
		{"op": "replace", "path": "/collected_by", "value": null},
		{"op": "replace", "path": "/sources/0/uri", "value": null},
		{"op": "remove", "path": "/sources/0/kind"},
		{"op": "replace", "path": "/preprocessing", "value": "redact"},
		{"op": "replace", "path": "/preprocessing/0", "value": "redact"},
	] {
		_ds_patch_denied(patch)
	}
}

_ds_patch_denied(patch) if {
	bad := json.patch(_ds_ds, [patch])
	"dataset/provenance-incomplete" in _ds_rules(_ds_deny(_ds_with_parent(bad)))
}

test_untrusted_source_needs_reviews if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("user-generated", "internal")}])
	some v in _ds_deny(_ds_with_parent(bad))
	v.rule == "dataset/untrusted-source"
	contains(v.msg, "requires scan and dataset-review attestations")
	v.pointer == "/sources/0/kind"
}

test_untrusted_source_with_attestations_passes if {
	ok := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("user-generated", "internal")}])
	attestations := [
		{"subject": "dataset:chats@2.0.0", "step": "scan", "verified": true},
		{"subject": "dataset:chats@2.0.0", "step": "dataset-review", "verified": true},
	]
	denies := _ds_run(_ds_with_parent(ok), _ds_config, [], [], attestations)
	count(denies) == 0
}

test_untrusted_source_with_one_attestation_still_denied if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("user-generated", "internal")}])
	attestations := [{"subject": "dataset:chats@2.0.0", "step": "scan", "verified": true}]
	denies := _ds_run(_ds_with_parent(bad), _ds_config, [], [], attestations)
	some v in denies
	v.rule == "dataset/untrusted-source"
	contains(v.msg, "missing: dataset-review")
}

test_untrusted_source_attestations_of_another_dataset_do_not_count if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("user-generated", "internal")}])
	attestations := [
		{"subject": "adapter:chats@2.0.0", "step": "scan", "verified": true},
		{"subject": "dataset:chats@1.0.0", "step": "dataset-review", "verified": true},
	]
	denies := _ds_run(_ds_with_parent(bad), _ds_config, [], [], attestations)
	"dataset/untrusted-source" in _ds_rules(denies)
}

test_untrusted_kinds_are_configurable if {
	vendor := json.patch(_ds_ds, [{"op": "replace", "path": "/sources", "value": _ds_source("vendor", "internal")}])
	count(_ds_deny(_ds_with_parent(vendor))) == 0
	config := {"datasets": {"licence_allowlist": ["internal"], "untrusted_source_kinds": ["vendor"]}}
	denies := _ds_run(_ds_with_parent(vendor), config, [], [], [])
	"dataset/untrusted-source" in _ds_rules(denies)
}

test_licence_not_allowed if {
	bad := json.patch(_ds_ds, [{"op": "replace", "path": "/sources/0/licence", "value": "CC-BY-NC-4.0"}])
	some v in _ds_deny(_ds_with_parent(bad))
	v.rule == "dataset/licence-not-allowed"
	v.pointer == "/sources/0/licence"
	contains(v.msg, "CC-BY-NC-4.0")
}

test_licence_allowlist_missing_refuses_all if {
	denies := _ds_run(_ds_with_parent(_ds_ds), {}, [], [], [])
	"dataset/licence-not-allowed" in _ds_rules(denies)
}

test_modified_published_version_denied if {
	base := json.patch(_ds_ds, [{"op": "replace", "path": "/change_summary", "value": "original"}])
	head := object.union(_ds_m(_ds_ds, true), {"base": {"data": base, "lines": {}}})
	changed := [{"status": "modified", "path": "datasets/chats/2.0.0.yaml"}]
	denies := _ds_run([head, _ds_m(_ds_parent, false)], _ds_config, changed, [], [])
	some v in denies
	v.rule == "dataset/immutable-version"
	v.line == 8
}

test_deleted_and_renamed_versions_denied if {
	changed := [
		{"status": "deleted", "path": "datasets/chats/1.0.0.yaml"},
		{"status": "renamed", "path": "datasets/chats/1.0.1.yaml", "old_path": "datasets/chats/1.0.0.yaml"},
	]
	denies := _ds_run([], _ds_config, changed, [], [])
	paths := {v.path | some v in denies; v.rule == "dataset/immutable-version"}
	paths == {"datasets/chats/1.0.0.yaml", "datasets/chats/1.0.1.yaml"}
}

test_added_version_is_not_an_edit if {
	changed := [{"status": "added", "path": "datasets/chats/2.0.0.yaml"}, {"status": "modified", "path": "datasets/README.md"}]
	denies := _ds_run(_ds_with_parent(_ds_ds), _ds_config, changed, [], [])
	count(denies) == 0
}

test_parent_missing if {
	some v in _ds_deny([_ds_m_parent(_ds_ds, true, "missing")])
	v.rule == "dataset/parent-missing"
	v.pointer == "/parent"
	contains(v.msg, "datasets/chats/1.0.0.yaml does not exist")
}

test_parent_invalid if {
	some v in _ds_deny([_ds_m_parent(_ds_ds, true, "invalid")])
	v.rule == "dataset/parent-missing"
	contains(v.msg, "is not valid")
}

test_first_version_has_no_parent if {
	count(_ds_deny([_ds_m(_ds_parent, true)])) == 0
}

_ds_shard(actual) := [{
	"manifest": "datasets/chats/2.0.0.yaml", "path": "data/a.jsonl", "pointer": "/shards/0/sha256",
	"line": 30, "expected": "ab", "actual": actual, "match": actual == "ab",
}]

test_shard_digest_mismatch if {
	denies := _ds_run(_ds_with_parent(_ds_ds), _ds_config, [], _ds_shard("cd"), [])
	some v in denies
	v.rule == "dataset/shard-digest-mismatch"
	v.line == 30
}

test_shard_digest_match_passes if {
	denies := _ds_run(_ds_with_parent(_ds_ds), _ds_config, [], _ds_shard("ab"), [])
	count(denies) == 0
}
