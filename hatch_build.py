"""Build hook: compile the optional C extension of the dataset scanner.

``ftpolicy/scan/dataset/_native.c`` holds the per-token hot loops of ``ftpolicy scan
dataset`` (see its header). It is compiled with the C compiler Python was built with
(``sysconfig``), into the wheel or, for an editable install, next to its source. Without
a compiler the build still succeeds with a warning: the scanner then uses its pure-Python
code, which gives the same findings, more slowly. ``FTPOLICY_NO_NATIVE=1`` skips it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("ftpolicy/scan/dataset/_native.c")
MODULE = "ftpolicy/scan/dataset/_native"


def compile_extension(root: Path, out_dir: Path) -> Path | None:
    """Compile the extension into ``out_dir``; its path, or None (with a warning) on failure."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / (Path(MODULE).name + suffix)
    # the compiler and shared-object flags Python itself was built with (LDSHARED is
    # "cc -shared" on Linux, "cc -bundle -undefined dynamic_lookup" on macOS)
    ldshared = os.environ.get("LDSHARED") or sysconfig.get_config_var("LDSHARED")
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    link = shlex.split(ldshared) if ldshared else [*shlex.split(cc), "-shared"]
    include = sysconfig.get_paths()["include"]
    cmd = [*link, "-O2", "-fPIC", "-std=c99", "-Wall", f"-I{include}", str(root / SOURCE), "-o", str(target)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        print(f"ftpolicy: C compiler not available ({exc}); the scanner uses pure Python", file=sys.stderr)
        return None
    if proc.returncode != 0:
        print(
            "ftpolicy: compiling the scanner's C extension failed; the scanner uses pure Python\n"
            + proc.stderr[-2000:],
            file=sys.stderr,
        )
        return None
    return target


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled extension to wheels (and editable installs)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("FTPOLICY_NO_NATIVE"):
            return
        root = Path(self.root)
        if version == "editable":
            compile_extension(root, root / SOURCE.parent)  # imported from the checkout
            return
        tmp = Path(tempfile.mkdtemp(prefix="ftpolicy-native-"))
        self._tmp = tmp
        built = compile_extension(root, tmp)
        if built is None:
            return
        build_data["force_include"][str(built)] = f"{SOURCE.parent.as_posix()}/{built.name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
