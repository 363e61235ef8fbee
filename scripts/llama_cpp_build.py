"""Finds or builds llama.cpp for the scripts that compare TinyLM with it (never committed).

The source is the copy of llama.cpp that the PyPI sdist of llama-cpp-python 0.3.36 vendors
(commit 0c1e57098bba, the one the reference vectors in ../shared/reference came from). A build
lives in .build/llama.cpp/build; `build()` makes it (cmake and g++, about 10 minutes on 2
cores), `find()` looks there, in $LLAMA_CPP_DIR and in an explicit directory.
"""
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LLAMA_DIR = ROOT / ".build" / "llama.cpp"
SDIST = "llama_cpp_python-0.3.36"
TARGETS = ["llama", "llama-quantize", "llama-bench"]


def source_dir() -> Path:
    """The vendored llama.cpp source (downloads and unpacks the sdist once)."""
    source = LLAMA_DIR / SDIST / "vendor" / "llama.cpp"
    if not source.exists():
        LLAMA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "llama-cpp-python==0.3.36", "-d", str(LLAMA_DIR)], check=True)
        with tarfile.open(LLAMA_DIR / f"{SDIST}.tar.gz") as archive:
            archive.extractall(LLAMA_DIR)
    return source


def build() -> Path:
    """Builds libllama, llama-quantize and llama-bench; returns the directory holding them."""
    build_dir = LLAMA_DIR / "build"
    subprocess.run(["cmake", "-S", str(source_dir()), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_SERVER=OFF", "-DBUILD_SHARED_LIBS=ON"], check=True)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", *TARGETS, "-j", str(os.cpu_count() or 2)], check=True)
    return build_dir / "bin"


def find(explicit: str | None = None, build_if_missing: bool = False) -> Path:
    """The `bin` directory of a llama.cpp build (the one with libllama.so), or exits."""
    candidates = [explicit, os.environ.get("LLAMA_CPP_DIR"), LLAMA_DIR / "build"]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate)
        for directory in (path, path / "bin"):
            if (directory / "libllama.so").exists():
                return directory
    if build_if_missing:
        return build()
    sys.exit("llama.cpp not found: pass --llama-cpp DIR (a build directory with bin/libllama.so), set "
             "LLAMA_CPP_DIR, or use --build-llama-cpp to build it into .build/llama.cpp")


def include_dirs(bin_dir: Path) -> list[Path]:
    """Header directories for compiling against the libllama in `bin_dir`: its build's source
    tree (from CMakeCache.txt), else the sdist's."""
    source = None
    cache = bin_dir.parent / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text(errors="replace").splitlines():
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                source = Path(line.split("=", 1)[1])
    if source is None or not (source / "include" / "llama.h").exists():
        source = source_dir()
    return [source / "include", source / "ggml" / "include"]
