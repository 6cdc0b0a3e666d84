package ftpolicy.adapter_test

import rego.v1

import data.ftpolicy.adapter

_ad_sample := {
	"schema_version": 1,
	"kind": "adapter",
	"name": "support-bot",
	"version": "1.0.0",
	"base_model": {"id": "org/base-7b", "revision": "0123456789abcdef0123456789abcdef01234567"},
	"datasets": ["chats@1.0.0"],
	"training": {"config_digest": concat("", ["sha256:", _ad_hex64]), "trained_by": "bob"},
	"peft": {"type": "LORA", "r": 8, "target_modules": ["q_proj"]},
	"files": [
		{"path": "adapters/support-bot/1.0.0/adapter_config.json", "sha256": "aa", "bytes": 10},
		{"path": "adapters/support-bot/1.0.0/adapter_model.safetensors", "sha256": "bb", "bytes": 10},
	],
}

_ad_hex64 := "0000000000000000000000000000000000000000000000000000000000000000"

_ad_dataset := {"path": "datasets/chats/1.0.0.yaml", "kind": "dataset", "subject": false, "data": {"name": "chats", "version": "1.0.0"}, "lines": {}}

_ad_m(doc) := _ad_m_refs(doc, "valid")

# A manifest entry as ftpolicy builds it: refs carries the resolved dataset references.
_ad_m_refs(doc, status) := {
	"path": "adapters/support-bot/1.0.0.yaml",
	"kind": "adapter",
	"subject": true,
	"data": doc,
	"lines": {"/base_model": 5, "/datasets": 9, "/files": 18, "/training": 11},
	"refs": [{"pointer": "/datasets/0", "ref": doc.datasets[0], "path": _ad_path(doc.datasets[0]), "status": status}],
}

_ad_path(ref) := concat("", ["datasets/", split(ref, "@")[0], "/", split(ref, "@")[1], ".yaml"])

_ad_deny(doc) := denies if {
	denies := adapter.deny with input.manifests as [_ad_m(doc), _ad_dataset] with input.config as {}
}

_ad_rules(denies) := {v.rule | some v in denies}

test_clean_adapter_passes if {
	count(_ad_deny(_ad_sample)) == 0
}

test_base_model_digest_is_a_pin if {
	ok := json.patch(_ad_sample, [{"op": "replace", "path": "/base_model", "value": {"id": "m", "digest": concat("", ["sha256:", _ad_hex64])}}])
	count(_ad_deny(ok)) == 0
}

test_base_model_branch_is_not_a_pin if {
	bad := json.patch(_ad_sample, [{"op": "replace", "path": "/base_model/revision", "value": "main"}])
	denies := _ad_deny(bad)
	some v in denies
	v.rule == "adapter/base-model-unpinned"
	v.pointer == "/base_model/revision"
}

test_dataset_missing if {
	denies := adapter.deny with input.manifests as [_ad_m_refs(_ad_sample, "missing")] with input.config as {}
	some v in denies
	v.rule == "adapter/dataset-missing"
	contains(v.msg, "datasets/chats/1.0.0.yaml")
	v.pointer == "/datasets/0"
}

test_bin_weights_denied if {
	bad := json.patch(_ad_sample, [{"op": "replace", "path": "/files/1/path", "value": "adapters/support-bot/1.0.0/adapter_model.bin"}])
	denies := _ad_deny(bad)
	some v in denies
	v.rule == "adapter/unsafe-weight-format"
	v.pointer == "/files/1/path"
}

test_pickle_formats_denied_case_insensitive if {
	some ext in [".PT", ".pth", ".pkl", ".ckpt", ".pickle"]
	bad := json.patch(_ad_sample, [{"op": "replace", "path": "/files/1/path", "value": concat("", ["w", ext])}])
	"adapter/unsafe-weight-format" in _ad_rules(_ad_deny(bad))
}

test_extra_forbidden_extensions_from_config if {
	odd := json.patch(_ad_sample, [{"op": "replace", "path": "/files/1/path", "value": "weights.npz"}])
	count(_ad_deny(odd)) == 0
	denies := adapter.deny with input.manifests as [_ad_m(odd), _ad_dataset] with input.config as {"adapters": {"forbidden_extensions": [".NPZ"]}}
	"adapter/unsafe-weight-format" in _ad_rules(denies)
}

test_training_config_digest_missing if {
	bad := json.patch(_ad_sample, [{"op": "remove", "path": "/training/config_digest"}])
	denies := _ad_deny(bad)
	some v in denies
	v.rule == "adapter/training-config-missing"
	v.pointer == "/training/config_digest"
}
