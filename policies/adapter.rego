# Adapter manifests (adapters/NAME/VERSION.yaml): pinned base model, existing datasets,
# safe weight formats and a recorded training configuration.
package ftpolicy.adapter

import rego.v1

import data.ftpolicy.lib

# The adapter manifests under judgement, collected once per query.
_adapters := [m | some m in input.manifests; lib.subject(m, "adapter")]

# Pickle-based formats run code when loaded: never accepted as adapter files.
_pickle_extensions := {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}

_forbidden_extensions contains e if some e in _pickle_extensions

_forbidden_extensions contains lower(e) if {
	some e in input.config.adapters.forbidden_extensions
	is_string(e)
}

# adapter/base-model-unpinned: the base model is pinned to an immutable revision or digest.
deny contains v if {
	some m in _adapters
	not _pinned(m.data.base_model)
	v := {
		"rule": "adapter/base-model-unpinned",
		"msg": sprintf(
			"adapter %s@%s: base model '%s' is not pinned to a 40-hex revision or a sha256 digest",
			[m.data.name, m.data.version, object.get(m.data, ["base_model", "id"], "?")],
		),
		"severity": "high",
		"path": m.path,
		"pointer": "/base_model/revision",
		"hint": "set base_model.revision to the full commit id (not a branch or tag) or base_model.digest",
	}
}

_pinned(base) if regex.match(`^[0-9a-f]{40}$`, base.revision)

_pinned(base) if regex.match(`^sha256:[0-9a-f]{64}$`, base.digest)

# adapter/dataset-missing: every dataset the adapter was trained on exists and is valid.
deny contains v if {
	some m in _adapters
	some r in m.refs
	startswith(r.pointer, "/datasets/")
	r.status != "valid"
	v := {
		"rule": "adapter/dataset-missing",
		"msg": sprintf(
			"adapter %s@%s references dataset %s, but %s %s",
			[m.data.name, m.data.version, r.ref, r.path, lib.ref_problem[r.status]],
		),
		"severity": "high",
		"path": m.path,
		"pointer": r.pointer,
		"hint": "add the dataset manifest in the same change, or reference an existing version",
	}
}

# adapter/unsafe-weight-format: weights are safetensors only; pickle formats are refused.
deny contains v if {
	some m in _adapters
	some i, file in m.data.files
	some ext in _forbidden_extensions
	endswith(lower(file.path), ext)
	v := {
		"rule": "adapter/unsafe-weight-format",
		"msg": concat("", [
			sprintf("adapter %s@%s: file %s uses the ", [m.data.name, m.data.version, file.path]),
			ext, " format, which can run code when loaded; only safetensors weights are allowed",
		]),
		"severity": "critical",
		"path": m.path,
		"pointer": sprintf("/files/%d/path", [i]),
		"hint": "convert the weights to .safetensors (peft: save_pretrained(..., safe_serialization=True))",
	}
}

# adapter/training-config-missing: the training configuration is pinned by digest.
deny contains v if {
	some m in _adapters
	not regex.match(`^sha256:[0-9a-f]{64}$`, object.get(m.data, ["training", "config_digest"], ""))
	v := {
		"rule": "adapter/training-config-missing",
		"msg": sprintf("adapter %s@%s does not record the digest of its training configuration", [m.data.name, m.data.version]),
		"severity": "high",
		"path": m.path,
		"pointer": "/training/config_digest",
		"hint": "set training.config_digest to sha256:<hex> of the training config file",
	}
}
