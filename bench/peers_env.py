"""The peer benchmark's own virtual environment (mage-agent and tiktoken) and its offline cl100k_base vocabulary.

Both live under ``${XDG_CACHE_HOME:-~/.cache}/mage-mcp/bench/``, are built on first use and reused:

- ``mage-agent-0.2.0/``: a venv with ``mage-agent==0.2.0`` and ``tiktoken==0.14.0`` from the package index;
- ``tiktoken/``: ``TIKTOKEN_CACHE_DIR`` holding ``cl100k_base.tiktoken`` under tiktoken's cache key. tiktoken
  would download that file at run time; here it is rebuilt from the ranks shipped in the npm package
  ``js-tiktoken@1.0.21`` (``npm pack``) and accepted only if its sha256 is the one tiktoken pins.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

AGENT_VERSION = "0.2.0"
TIKTOKEN_VERSION = "0.14.0"
REQUIREMENTS = (f"mage-agent=={AGENT_VERSION}", f"tiktoken=={TIKTOKEN_VERSION}")
JS_TIKTOKEN = "js-tiktoken@1.0.21"
RANKS_MEMBER = "package/dist/ranks/cl100k_base.cjs"
# tiktoken names its cache file after this URL (sha1 of it) and checks the file against this sha256
# (tiktoken_ext/openai_public.py, tiktoken 0.14.0). The URL is never fetched.
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
ENCODING = "cl100k_base"

_COUNT_SCRIPT = """
import json, sys, tiktoken
encoding = tiktoken.get_encoding(sys.argv[1])
texts = json.load(sys.stdin)
json.dump({"version": tiktoken.__version__, "counts": [len(encoding.encode_ordinary(t)) for t in texts]}, sys.stdout)
"""


def log(message: str) -> None:
    print(f"[peers] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "mage-mcp" / "bench"


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One builder at a time (two benchmarks started together must not install into the same venv)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the venv


@dataclass(frozen=True)
class PeerVenv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def mage_agent(self) -> Path:
        return self.path / "bin" / "mage-agent"

    @property
    def _marker(self) -> Path:
        return self.path / "peers-requirements.txt"

    def ready(self) -> bool:
        try:
            installed = self._marker.read_text()
        except OSError:
            return False
        return installed == "\n".join(REQUIREMENTS) and self.mage_agent.is_file()


def ensure_venv() -> PeerVenv:
    """The benchmark venv, created and installed with pip the first time (about 10 s), then reused."""
    root = cache_root()
    venv = PeerVenv(root / f"mage-agent-{AGENT_VERSION}")
    with _locked(root):
        if venv.ready():
            return venv
        log(f"installing {' '.join(REQUIREMENTS)} into {venv.path} ...")
        shutil.rmtree(venv.path, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv.path)], "creating the benchmark venv")
        _run([str(venv.python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], "pip install")
        venv._marker.write_text("\n".join(REQUIREMENTS))
        return venv


def _run(argv: Sequence[str], what: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False, timeout=600)
    except OSError as error:
        raise RuntimeError(f"{what} failed: {error}") from error
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return result.stdout


# --------------------------------------------------------------------------- the vocabulary


def ensure_vocabulary() -> Path:
    """TIKTOKEN_CACHE_DIR with a verified cl100k_base.tiktoken in it (built from npm on first use)."""
    root = cache_root()
    cache_dir = root / "tiktoken"
    target = cache_dir / hashlib.sha1(CL100K_URL.encode()).hexdigest()  # noqa: S324 (tiktoken's cache key)
    with _locked(root):
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == CL100K_SHA256:
            return cache_dir
        log(f"building {ENCODING}.tiktoken from npm {JS_TIKTOKEN} ...")
        data = _tiktoken_file(_npm_ranks(root))
        digest = hashlib.sha256(data).hexdigest()
        if digest != CL100K_SHA256:
            raise RuntimeError(f"{ENCODING} rebuilt from {JS_TIKTOKEN} has sha256 {digest}, not tiktoken's pin")
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(target)
        return cache_dir


def _npm_ranks(root: Path) -> str:
    """The `bpe_ranks` string of js-tiktoken's cl100k_base module, from the package's registry tarball."""
    with tempfile.TemporaryDirectory(dir=root, prefix="npm-pack-") as tmp:
        name = _run(["npm", "pack", JS_TIKTOKEN, "--silent"], f"npm pack {JS_TIKTOKEN}", cwd=Path(tmp)).strip()
        with tarfile.open(Path(tmp) / name.splitlines()[-1]) as tarball:
            member = tarball.extractfile(RANKS_MEMBER)
            if member is None:
                raise RuntimeError(f"{JS_TIKTOKEN} has no {RANKS_MEMBER}")
            source = member.read().decode()
    # `module.exports = {...};` where the object is plain JSON
    module = json.loads(source[source.index("{") : source.rindex("}") + 1])
    return str(module["bpe_ranks"])


def _tiktoken_file(bpe_ranks: str) -> bytes:
    """js-tiktoken's compressed ranks (lines of `<skip> <first rank> <base64 token>...`) as `<base64> <rank>` lines."""
    lines: list[str] = []
    for row in filter(None, bpe_ranks.split("\n")):
        _, first, *tokens = row.split(" ")
        for offset, token in enumerate(tokens):
            try:
                base64.b64decode(token, validate=True)
            except binascii.Error as error:
                raise RuntimeError(f"{JS_TIKTOKEN}: {token!r} is not base64") from error
            lines.append(f"{token} {int(first) + offset}\n")
    return "".join(lines).encode()


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class Tokenizer:
    """tiktoken's cl100k_base, run in the benchmark venv with the vocabulary built above (no network)."""

    venv: PeerVenv
    cache_dir: Path

    @property
    def name(self) -> str:
        return f"tiktoken {TIKTOKEN_VERSION} {ENCODING} (vocabulary rebuilt from npm {JS_TIKTOKEN}, sha256 checked)"

    def count(self, texts: Sequence[str]) -> list[int]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TIKTOKEN_CACHE_DIR": str(self.cache_dir)}
        result = subprocess.run(
            [str(self.venv.python), "-c", _COUNT_SCRIPT, ENCODING],
            input=json.dumps(list(texts)),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"token counting failed:\n{result.stderr[-2000:]}")
        answer = json.loads(result.stdout)
        if answer["version"] != TIKTOKEN_VERSION:
            raise RuntimeError(f"the benchmark venv has tiktoken {answer['version']}, not {TIKTOKEN_VERSION}")
        return [int(n) for n in answer["counts"]]


def tokenizer(venv: PeerVenv) -> Tokenizer:
    return Tokenizer(venv, ensure_vocabulary())
