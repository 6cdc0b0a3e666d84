"""ftpolicy scan adapter: genuine peft adapters pass, each crafted bad adapter is caught."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from adapters.pickle_corpus import write_corpus
from ftpolicy.scan.adapter import inspect_adapter
from ftpolicy.scan.adapter.pickles import scan_pickle_file
from ftpolicy.scan.adapter.safetensors_header import read_header

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "adapters"
EXAMPLE = ROOT / "examples" / "governed-repo"
EXAMPLE_ADAPTER = EXAMPLE / "artifacts" / "adapters" / "code-assistant-lora" / "1.0.0"
REV = "0123456789abcdef0123456789abcdef01234567"


def rules(folder: Path, **kw: Any) -> set[str]:
    return {f.rule_id for f in inspect_adapter(folder, **kw).findings}


def copy_fixture(tmp_path: Path, name: str = "llama-lora") -> Path:
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def safetensors_bytes(
    entries: dict[str, Any], data: bytes, *, header_len: int | None = None, raw_header: bytes | None = None
) -> bytes:
    header = raw_header if raw_header is not None else json.dumps(entries).encode()
    n = len(header) if header_len is None else header_len
    return struct.pack("<Q", n) + header + data


def lora_config(**over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "peft_type": "LORA",
        "r": 2,
        "lora_alpha": 4,
        "target_modules": ["q_proj"],
        "base_model_name_or_path": "org/base",
        "revision": REV,
    }
    cfg.update(over)
    return cfg


def write_adapter(folder: Path, cfg: dict[str, Any], tensors: dict[str, tuple[int, ...]]) -> Path:
    """A well-formed F32 safetensors file with ``tensors`` (name -> shape) and ``cfg``."""
    folder.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    pos = 0
    for name, shape in tensors.items():
        size = 4
        for d in shape:
            size *= d
        entries[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [pos, pos + size]}
        pos += size
    (folder / "adapter_model.safetensors").write_bytes(safetensors_bytes(entries, b"\0" * pos))
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    return folder


def q(layer: int, part: str) -> str:
    return f"base_model.model.model.layers.{layer}.self_attn.q_proj.{part}.weight"


GOOD = {q(0, "lora_A"): (2, 8), q(0, "lora_B"): (8, 2), q(1, "lora_A"): (2, 8), q(1, "lora_B"): (8, 2)}


# -- genuine adapters ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama-lora", "gpt2-lora"])
def test_real_peft_adapters_pass(name: str) -> None:
    report = inspect_adapter(FIXTURES / name)
    assert report.findings == []
    assert not report.failed()
    assert report.tensors > 0 and len(report.lora_modules) == report.tensors // 2


def test_example_adapter_passes() -> None:
    report = inspect_adapter(EXAMPLE_ADAPTER)
    assert report.findings == [] and report.parameters == 1792


def test_peft_defaults_are_unpinned() -> None:
    assert rules(FIXTURES / "llama-lora-unpinned") == {
        "adapter/base-model-missing",
        "adapter/base-model-unpinned",
    }


def test_genuine_torch_bin_is_a_pickle_finding_without_bad_globals() -> None:
    found = rules(FIXTURES / "llama-lora-bin")
    assert found == {"adapter/pickle-file", "adapter/weights-missing"}
    for p in (FIXTURES / "llama-lora-bin" / "adapter_model.bin", FIXTURES / "torch-state-dict.pt"):
        scan = scan_pickle_file(p)
        assert scan.format == "torch-zip" and scan.errors == []
        names = {g.name for g in scan.globals}
        assert "torch._utils._rebuild_tensor_v2" in names and "collections.OrderedDict" in names
        assert scan.disallowed == []


def test_genuine_legacy_torch_file_is_a_clean_pickle_sequence() -> None:
    scan = scan_pickle_file(FIXTURES / "torch-legacy.bin")
    assert scan.format == "pickle-sequence" and scan.pickles == 5 and scan.errors == []
    assert scan.disallowed == [] and "torch._utils._rebuild_tensor_v2" in {g.name for g in scan.globals}


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_is_read(tmp_path: Path, protocol: int) -> None:
    from adapters.pickle_corpus import reduce_os_system

    p = tmp_path / "p.pkl"
    p.write_bytes(reduce_os_system(f"touch {tmp_path / 'MARKER'}", protocol=protocol))
    scan = scan_pickle_file(p)
    assert [g.name for g in scan.disallowed] == ["posix.system"] and scan.errors == []
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="needs torch + peft (extra 'models')")
def test_fixture_script_regenerates_passing_adapters(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_adapter_fixtures.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert inspect_adapter(tmp_path / "llama-lora").findings == []
    assert rules(tmp_path / "llama-lora-unpinned") == {
        "adapter/base-model-missing",
        "adapter/base-model-unpinned",
    }


# -- pickles: never unpickled, judged by an allowlist ---------------------------------


def test_malicious_pickles_are_caught_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    corpus = tmp_path / "corpus"
    expected = write_corpus(corpus, marker)
    assert sum(expected.values()) >= 8
    for name, malicious in expected.items():
        adapter = copy_fixture(tmp_path / name, "llama-lora")
        shutil.copy(corpus / name, adapter / name)
        report = inspect_adapter(adapter)
        by_rule = {f.rule_id for f in report.findings if f.file == name}
        assert "adapter/pickle-file" in by_rule, name
        assert ("adapter/pickle-global" in by_rule) is malicious, (name, by_rule)
        if malicious:
            crit = [f for f in report.findings if f.rule_id == "adapter/pickle-global"]
            assert all(f.severity == "critical" for f in crit)
    # the CLI path too, in a separate process
    for name in expected:
        subprocess.run(
            [sys.executable, "-m", "ftpolicy", "scan", "adapter", str(tmp_path / name / "llama-lora")],
            capture_output=True,
            check=False,
        )
    assert not marker.exists()


def test_indirect_os_route_names_both_globals(tmp_path: Path) -> None:
    write_corpus(tmp_path, tmp_path / "MARKER")
    names = {g.name for g in scan_pickle_file(tmp_path / "indirect_importlib.bin").disallowed}
    assert names == {"importlib.import_module", "operator.methodcaller"}
    memo = {g.name for g in scan_pickle_file(tmp_path / "memo_stack_global.pkl").disallowed}
    assert memo == {"posix.system"}


def test_computed_stack_global_is_reported_unresolved(tmp_path: Path) -> None:
    # STACK_GLOBAL whose operands are not literal strings (a call result) cannot be judged
    body = b"\x8c\x08builtins\x8c\x03str\x93)R\x8c\x04eval\x93."
    p = tmp_path / "computed.pkl"
    p.write_bytes(b"\x80\x04" + body)
    bad = scan_pickle_file(p).disallowed
    assert any(not g.resolved for g in bad)


def test_truncated_pickle_is_malformed(tmp_path: Path) -> None:
    adapter = copy_fixture(tmp_path)
    (adapter / "extra.pkl").write_bytes(b"\x80\x02cos\nsys")
    assert {"adapter/pickle-file", "adapter/pickle-malformed"} <= rules(adapter)


def test_pickle_sniffed_by_content_without_suffix(tmp_path: Path) -> None:
    adapter = copy_fixture(tmp_path)
    write_corpus(tmp_path / "c", tmp_path / "MARKER")
    shutil.copy(tmp_path / "c" / "reduce_os_system.pkl", adapter / "weights.dat")
    assert "adapter/pickle-global" in rules(adapter)


# -- safetensors headers ------------------------------------------------------------


def test_header_length_two_to_the_63(tmp_path: Path) -> None:
    p = tmp_path / "a.safetensors"
    p.write_bytes(safetensors_bytes({}, b"", header_len=2**63, raw_header=b"{}"))
    h = read_header(p)
    assert [x.rule for x in h.problems] == ["safetensors-header-length"]
    assert "9223372036854775808" in h.problems[0].message


def test_header_length_over_limit_and_short_file(tmp_path: Path) -> None:
    p = tmp_path / "a.safetensors"
    p.write_bytes(safetensors_bytes({}, b"", header_len=2, raw_header=b"{}"))
    assert read_header(p, max_header_bytes=1).problems[0].rule == "safetensors-header-length"
    p.write_bytes(b"\x01\x02")
    assert read_header(p).problems[0].rule == "safetensors-header-length"


def test_header_lies_about_offsets(tmp_path: Path) -> None:
    adapter = write_adapter(tmp_path / "a", lora_config(), GOOD)
    entries = {
        name: {"dtype": "F32", "shape": list(shape), "data_offsets": [i * 64, (i + 1) * 64]}
        for i, (name, shape) in enumerate(GOOD.items())
    }
    entries[q(1, "lora_B")]["data_offsets"] = [192, 192 + 64]
    (adapter / "adapter_model.safetensors").write_bytes(safetensors_bytes(entries, b"\0" * 200))
    found = inspect_adapter(adapter).findings
    msgs = [f.message for f in found if f.rule_id == "adapter/safetensors-offsets"]
    assert any("end past the 200 data bytes" in m for m in msgs)


def test_overlapping_tensors_hole_dtype_size_json(tmp_path: Path) -> None:
    p = tmp_path / "a.safetensors"
    entries = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    p.write_bytes(safetensors_bytes(entries, b"\0" * 24))
    assert {x.rule for x in read_header(p).problems} == {"safetensors-overlap"}
    entries = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    }
    p.write_bytes(safetensors_bytes(entries, b"\0" * 24))
    assert "hole of 8 bytes" in read_header(p).problems[0].message
    p.write_bytes(safetensors_bytes({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}}, b"\0"))
    assert read_header(p).problems[0].rule == "safetensors-dtype"
    p.write_bytes(
        safetensors_bytes({"a": {"dtype": "F16", "shape": [3, 2], "data_offsets": [0, 8]}}, b"\0" * 8)
    )
    assert read_header(p).problems[0].rule == "safetensors-size"
    p.write_bytes(safetensors_bytes({}, b"", raw_header=b'{"a": 1, "a": 2}'))
    assert read_header(p).problems[0].rule == "safetensors-header-json"
    p.write_bytes(safetensors_bytes({}, b"", raw_header=b"\xff\xfe"))
    assert read_header(p).problems[0].rule == "safetensors-header-json"
    p.write_bytes(
        safetensors_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 12)
    )
    assert "8 trailing bytes" in read_header(p).problems[0].message


def test_space_padded_header_is_fine(tmp_path: Path) -> None:
    p = tmp_path / "a.safetensors"
    header = json.dumps({"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode() + b"   "
    p.write_bytes(safetensors_bytes({}, b"\0" * 8, raw_header=header))
    h = read_header(p)
    assert h.ok and h.tensors[0].numel == 4


# -- LoRA structure -----------------------------------------------------------------


def test_handmade_good_adapter_passes(tmp_path: Path) -> None:
    assert rules(write_adapter(tmp_path / "a", lora_config(), GOOD)) == set()


def test_rank_mismatch(tmp_path: Path) -> None:
    assert "adapter/lora-shape" in rules(write_adapter(tmp_path / "a", lora_config(r=4), GOOD))


def test_extra_and_missing_target_modules(tmp_path: Path) -> None:
    extra = dict(GOOD)
    extra["base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"] = (2, 8)
    extra["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"] = (8, 2)
    assert "adapter/target-modules-extra" in rules(write_adapter(tmp_path / "a", lora_config(), extra))
    cfg = lora_config(target_modules=["q_proj", "v_proj"])
    assert "adapter/target-modules-missing" in rules(write_adapter(tmp_path / "b", cfg, GOOD))


def test_inconsistent_layers_and_unpaired(tmp_path: Path) -> None:
    odd = dict(GOOD)
    odd[q(1, "lora_A")] = (2, 16)
    odd[q(1, "lora_B")] = (16, 2)
    assert "adapter/lora-inconsistent" in rules(write_adapter(tmp_path / "a", lora_config(), odd))
    half = {k: v for k, v in GOOD.items() if k != q(1, "lora_B")}
    assert "adapter/lora-unpaired" in rules(write_adapter(tmp_path / "b", lora_config(), half))
    swapped = {q(0, "lora_A"): (8, 2), q(0, "lora_B"): (2, 8)}
    assert "adapter/lora-shape" in rules(write_adapter(tmp_path / "c", lora_config(), swapped))


def test_unexpected_tensor_and_bad_config(tmp_path: Path) -> None:
    more = dict(GOOD)
    more["base_model.model.lm_head.weight"] = (4, 8)
    assert "adapter/tensor-unexpected" in rules(write_adapter(tmp_path / "a", lora_config(), more))
    bad = write_adapter(tmp_path / "b", lora_config(peft_type="MAGIC", revision="main"), GOOD)
    assert {"adapter/peft-type", "adapter/base-model-unpinned"} <= rules(bad)
    (bad / "adapter_config.json").write_text("[1, 2")
    assert "adapter/config-invalid" in rules(bad)
    (bad / "adapter_config.json").unlink()
    assert "adapter/config-missing" in rules(bad)


# -- folder content -----------------------------------------------------------------


def test_symlink_code_automap_extra_oversize(tmp_path: Path) -> None:
    adapter = copy_fixture(tmp_path)
    os.symlink("/etc/passwd", adapter / "passwd")
    (adapter / "modeling_evil.py").write_text("import os\n")
    (adapter / "notes.txt").write_text("hi\n")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_evil.Evil"}
    cfg["trust_remote_code"] = True
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    report = inspect_adapter(adapter, max_file_bytes=3000)
    found = {(f.rule_id, f.file) for f in report.findings}
    assert ("adapter/symlink", "passwd") in found
    assert ("adapter/code-file", "modeling_evil.py") in found
    assert ("adapter/auto-map", "adapter_config.json") in found
    assert ("adapter/trust-remote-code", "adapter_config.json") in found
    assert ("adapter/extra-file", "notes.txt") in found
    assert ("adapter/oversize-file", "adapter_model.safetensors") in found
    assert all(f["path"] != "passwd" for f in report.files)  # never followed


def test_symlinked_weights_and_fifo(tmp_path: Path) -> None:
    adapter = copy_fixture(tmp_path)
    real = tmp_path / "elsewhere.safetensors"
    (adapter / "adapter_model.safetensors").rename(real)
    os.symlink(real, adapter / "adapter_model.safetensors")
    os.mkfifo(adapter / "pipe")
    found = rules(adapter)
    assert {"adapter/symlink", "adapter/special-file"} <= found
    assert "adapter/weights-missing" not in found


def test_tokenizer_config_auto_map_is_caught(tmp_path: Path) -> None:
    adapter = copy_fixture(tmp_path)
    (adapter / "tokenizer_config.json").write_text(
        json.dumps({"auto_map": {"AutoTokenizer": ["tok.T", None]}})
    )
    assert "adapter/auto-map" in rules(adapter)


# -- CLI and evidence ---------------------------------------------------------------


def _ftpolicy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftpolicy", *args], capture_output=True, text=True, check=False
    )


def _validator() -> Draft202012Validator:
    docs = [json.loads(p.read_text()) for p in (ROOT / "schemas").glob("*.schema.json")]
    reg: Registry[Any] = Registry().with_resources([(d["$id"], Resource.from_contents(d)) for d in docs])
    schema = json.loads((ROOT / "schemas" / "evidence-adapter-scan.v1.schema.json").read_text())
    return Draft202012Validator(schema, registry=reg)


def test_cli_formats_exit_codes_and_evidence(tmp_path: Path) -> None:
    good = _ftpolicy(
        "scan",
        "adapter",
        "code-assistant-lora@1.0.0",
        "--repo",
        str(EXAMPLE),
        "--summary",
        str(tmp_path / "s.json"),
    )
    assert good.returncode == 0, good.stderr
    evidence = json.loads((tmp_path / "s.json").read_text())
    _validator().validate(evidence)
    from ftpolicy.attest.evidence import adapter_digest

    files = {
        f"artifacts/adapters/code-assistant-lora/1.0.0/{f['path']}": f["sha256"]
        for f in evidence["adapter"]["files"]
    }
    assert evidence["adapter"]["digest"] == adapter_digest(files)
    assert evidence["subject"] == "adapter:code-assistant-lora@1.0.0" and evidence["status"] == "pass"

    bad = copy_fixture(tmp_path, "llama-lora-bin")
    for fmt in ("text", "json", "sarif", "github"):
        proc = _ftpolicy("scan", "adapter", str(bad), "--format", fmt, "--summary", str(tmp_path / "b.json"))
        assert proc.returncode == 1, proc.stderr
        assert "adapter/pickle-file" in proc.stdout
    doc = json.loads((tmp_path / "b.json").read_text())
    _validator().validate(doc)
    assert doc["status"] == "fail" and doc["counts"]["by_rule"]["adapter/pickle-file"] == 1
    never = _ftpolicy("scan", "adapter", str(bad), "--fail-on", "never", "--output", str(tmp_path / "r.txt"))
    assert never.returncode == 0 and never.stdout == "" and "pickle-file" in (tmp_path / "r.txt").read_text()
    missing = _ftpolicy("scan", "adapter", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such adapter folder" in missing.stderr


@pytest.mark.parametrize("opcode", [b"\x8d", b"\x8e", b"\x96"])  # BINUNICODE8, BINBYTES8, BYTEARRAY8
def test_huge_length_fields_are_malformed_not_allocated(tmp_path: Path, opcode: bytes) -> None:
    p = tmp_path / "bomb.pkl"
    p.write_bytes(b"\x80\x05" + opcode + struct.pack("<Q", 2**62) + b"abc")
    scan = scan_pickle_file(p)
    assert scan.errors and "only 3 remain" in scan.errors[0]


def test_a_broken_second_pickle_is_reported(tmp_path: Path) -> None:
    from adapters.pickle_corpus import genuine_ordered_dict

    p = tmp_path / "two.pkl"
    p.write_bytes(genuine_ordered_dict() + b"\x80\x02cposix\nsystem\nX\x01\x00\x00\x00xR\xff")
    scan = scan_pickle_file(p)
    assert [g.name for g in scan.disallowed] == ["posix.system"]
    assert scan.errors and "pickle #2" in scan.errors[0]
