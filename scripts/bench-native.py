#!/usr/bin/env python3
"""Native speed, TinyLM next to llama.cpp, in one run.

    python3 scripts/bench-native.py [--model models/X.gguf] [--threads 1,2] [--rounds 3]
                                    [--llama-bench PATH | --build-llama-cpp]

Runs `tinylm bench` and llama.cpp's `llama-bench` alternately (pp128 and tg128 on the same
model and thread counts), `--rounds` times each, and prints medians and the ratio TinyLM /
llama.cpp. Alternating matters: this kind of machine drifts 15-25% between runs, so only
ratios measured side by side mean anything.

llama.cpp is optional and never committed. It is found at --llama-bench, $LLAMA_BENCH, or
.build/llama.cpp/build/bin/llama-bench; --build-llama-cpp builds it there from the source
that the PyPI sdist of llama-cpp-python 0.3.36 vendors (the llama.cpp commit the reference
vectors came from; needs cmake and g++, about 10 minutes on 2 cores).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LLAMA_DIR = ROOT / ".build" / "llama.cpp"
SDIST = "llama_cpp_python-0.3.36"


def build_llama_cpp() -> Path:
    binary = LLAMA_DIR / "build" / "bin" / "llama-bench"
    if binary.exists():
        return binary
    LLAMA_DIR.mkdir(parents=True, exist_ok=True)
    source = LLAMA_DIR / SDIST / "vendor" / "llama.cpp"
    if not source.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "llama-cpp-python==0.3.36", "-d", str(LLAMA_DIR)], check=True)
        with tarfile.open(LLAMA_DIR / f"{SDIST}.tar.gz") as archive:
            archive.extractall(LLAMA_DIR)
    build = LLAMA_DIR / "build"
    subprocess.run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_SERVER=OFF"], check=True)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-bench", "-j", str(os.cpu_count() or 2)], check=True)
    return binary


def find_llama_bench(args) -> Path | None:
    for candidate in (args.llama_bench, os.environ.get("LLAMA_BENCH"), LLAMA_DIR / "build" / "bin" / "llama-bench"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return build_llama_cpp() if args.build_llama_cpp else None


def run_tinylm(binary: Path, model: str, threads: int, repetitions: int) -> dict:
    out = subprocess.run([str(binary), "bench", "--model", model, "-p", "128", "-n", "128", "-t", str(threads),
                          "-r", str(repetitions)], check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*(pp128|tg128)\s*\|\s*([\d.]+)", line)
        if m:
            rates[m.group(2)] = float(m.group(3))
    return rates


def run_llama(binary: Path, model: str, threads: int, repetitions: int) -> dict:
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent))
    out = subprocess.run([str(binary), "-m", model, "-p", "128", "-n", "128", "-t", str(threads),
                          "-r", str(repetitions), "-o", "json"], check=True, capture_output=True, text=True, env=env).stdout
    rates = {}
    for row in json.loads(out):
        rates["pp128" if row["n_prompt"] else "tg128"] = row["avg_ts"]
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=3, help="repetitions inside each bench call")
    parser.add_argument("--llama-bench")
    parser.add_argument("--build-llama-cpp", action="store_true")
    args = parser.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "tinylm"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    tinylm = ROOT / ".build" / "release" / "tinylm"
    llama = find_llama_bench(args)
    if llama is None:
        print("llama-bench not found (use --build-llama-cpp or --llama-bench PATH); TinyLM only", file=sys.stderr)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"model: {Path(args.model).name}; cpu: {cpu} ({os.cpu_count()} cpus); rounds: {args.rounds}")
    print()
    print("| threads | test | TinyLM t/s | llama.cpp t/s | ratio |")
    print("|---|---|---|---|---|")
    for threads in [int(t) for t in args.threads.split(",")]:
        ours = {"pp128": [], "tg128": []}
        theirs = {"pp128": [], "tg128": []}
        for _ in range(args.rounds):
            for test, rate in run_tinylm(tinylm, args.model, threads, args.repetitions).items():
                ours[test].append(rate)
            if llama:
                for test, rate in run_llama(llama, args.model, threads, args.repetitions).items():
                    theirs[test].append(rate)
        for test in ("pp128", "tg128"):
            a = statistics.median(ours[test])
            if theirs[test]:
                b = statistics.median(theirs[test])
                print(f"| {threads} | {test} | {a:.1f} | {b:.1f} | {a / b:.2f} |")
            else:
                print(f"| {threads} | {test} | {a:.1f} | – | – |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
