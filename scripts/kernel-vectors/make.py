#!/usr/bin/env python3
"""Writes llama.cpp's own results for TinyLM's kernel tests.

    python3 scripts/kernel-vectors/make.py [--llama-cpp DIR] [--out Tests/vectors/llama-kernels]

Builds kernel_vectors.c (next to this script) against a llama.cpp build and runs it: random
matrices in every weight format TinyLM reads, quantized by ggml, placed where llama.cpp would
place them (repacked or not), multiplied by activations at batch sizes 1…8, 16 and 64 on the
CPU backend. The weights, activations and results go to --out with manifest.json; the test
KernelVectorTests multiplies the same inputs and compares the bits. CI does not need llama.cpp.

DIR holds `build/` (a CMake build of llama.cpp with its shared libraries in build/bin) and the
source the PyPI sdist of llama-cpp-python 0.3.36 vendors (llama_cpp_python-0.3.36/vendor/
llama.cpp), as `python3 scripts/bench-native.py --build-llama-cpp` makes in .build/llama.cpp.
The reference vectors were made with -DGGML_NATIVE=ON on an AMD EPYC (Zen 4: AVX2, AVX-512,
VNNI); the kernels llama.cpp picks depend on the CPU, so other machines give other vectors.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SDIST = "llama_cpp_python-0.3.36"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-cpp", default=os.environ.get("LLAMA_CPP_DIR", str(ROOT / ".build" / "llama.cpp")))
    parser.add_argument("--out", default=str(ROOT / "Tests" / "vectors" / "llama-kernels"))
    args = parser.parse_args()
    base = Path(args.llama_cpp)
    source, libs = base / SDIST / "vendor" / "llama.cpp", base / "build" / "bin"
    if not (libs / "libggml-cpu.so").exists() or not (source / "ggml" / "include" / "ggml.h").exists():
        print(f"no llama.cpp build at {base} (expected {libs}/libggml-cpu.so and {source}/ggml/include)", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "kernel_vectors"
        subprocess.run(["cc", "-O2", "-std=c11", str(Path(__file__).with_name("kernel_vectors.c")), "-o", str(binary),
                        f"-I{source / 'ggml' / 'include'}", f"-L{libs}", "-lggml", "-lggml-base", "-lggml-cpu",
                        f"-Wl,-rpath,{libs}", "-lm"], check=True)
        listing = subprocess.run([str(binary), str(out)], check=True, capture_output=True, text=True).stdout
    manifest = json.loads(listing)
    commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    flags = set()
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
    manifest["llama.cpp"] = commit or f"the source vendored in the {SDIST} sdist"
    manifest["machine"] = {"cpu": model, "arch": platform.machine(),
                           "features": sorted(f for f in flags if f in {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni"})}
    manifest["command"] = "python3 scripts/kernel-vectors/make.py"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(manifest['matrices'])} matrices to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
