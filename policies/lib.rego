# Helpers shared by the default policy packages. No deny/warn rules live here.
package ftpolicy.lib

import rego.v1

# A manifest under judgement: in a diff check the manifests touched by the change, in a
# full check every manifest. Referenced manifests (a dataset's parent, an adapter's
# datasets) are in input.manifests too, with subject false: they are context only.
subject(m, kind) if {
	m.kind == kind
	m.subject == true
}

# The line of the first pointer in ptrs that the manifest has a line for, else 1. ftpolicy
# passes the lines of the top-level keys; a violation that names a "pointer" gets the exact
# line of that field filled in by ftpolicy after evaluation.
line(m, ptrs) := l if {
	found := [n | some p in ptrs; n := m.lines[p]]
	count(found) > 0
	l := found[0]
} else := 1

# A field that is present and carries a value (not null, not blank, not an empty list/map).
has_value(obj, key) if {
	v := obj[key]
	v != null
	not _blank(v)
}

_blank(v) if {
	is_string(v)
	trim(v, white_space) == ""
}

# Every white-space character (what Go's unicode.IsSpace accepts, which OPA's trim_space
# removes; the embedded engine's trim_space removes only the ASCII ones), for trim(). Written
# base64-encoded because the engines read escapes in Rego string literals differently.
white_space := concat("", [base64.decode(b) | some b in [
	"IA==", "CQ==", "Cg==", "DQ==", "DA==", "Cw==", "woU=", "wqA=", "4ZqA", "4oCA", "4oCB",
	"4oCC", "4oCD", "4oCE", "4oCF", "4oCG", "4oCH", "4oCI", "4oCJ", "4oCK", "4oCo", "4oCp",
	"4oCv", "4oGf", "44CA",
]])

_blank(v) if {
	is_array(v)
	count(v) == 0
}

_blank(v) if {
	is_object(v)
	count(v) == 0
}

# {"NAME@VERSION": true} for every dataset manifest in the input. For your own rules; the
# defaults use the references ftpolicy resolves into each manifest's refs, because looking
# keys up in a large object is slow on the embedded engine.
dataset_refs := {concat("@", [m.data.name, m.data.version]): true | some m in input.manifests; m.kind == "dataset"}

# Why a reference (m.refs[_].status) is not usable, in words.
ref_problem := {"missing": "does not exist at head", "invalid": "is not valid (see manifest/invalid)"}

# A verified attestation of `step` for a dataset. input.attestations holds only links of
# chains that verified as a whole (see ftpolicy/promotion.py); `ref` is a dataset
# NAME@VERSION and attestation subjects are "dataset:NAME@VERSION".
attested(ref, step) if {
	some a in input.attestations
	a.subject == concat("", ["dataset:", ref])
	a.step == step
	a.verified == true
}

# Control-plane paths: files that decide what the gate enforces.
control_plane(path) if path == "ftpolicy.yaml"

control_plane(path) if {
	some prefix in control_plane_prefixes
	startswith(path, prefix)
}

control_plane_prefixes contains p if some p in {"identities/", "layouts/", "policies/"}

control_plane_prefixes contains p if {
	extra := input.config.engine.extra_policies
	is_string(extra)
	extra != ""
	p := concat("", [trim_right(extra, "/"), "/"])
}
