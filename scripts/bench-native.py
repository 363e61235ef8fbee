#!/usr/bin/env python3
"""Native speed, TinyLM next to llama.cpp, in one run.

    python3 scripts/bench-native.py [--model models/X.gguf] [--threads 1,2] [--depths 0,1024,4096]
                                    [--rounds 3] [--llama-bench PATH | --build-llama-cpp]
                                    [--max-busy 0.25] [--max-load N] [--quiet-timeout 300]

Runs `tinylm bench` and llama.cpp's `llama-bench` alternately (pp128 and tg128 on the same
model, thread counts and context depths: `-d`, the tokens already in the KV cache before each
test), `--rounds` times each, and prints medians and the ratio TinyLM / llama.cpp as a markdown
table for BENCHMARKS.md. Alternating matters: this kind of machine drifts 15-25% between runs,
so only ratios measured side by side mean anything. Before every call it waits for a quiet
machine (scripts/quiet_machine.py: CPUs idle for a few seconds and the load average below
--max-load, at most --quiet-timeout seconds) and the table's caption says how quiet it was.

llama.cpp is optional and never committed. It is found at --llama-bench, $LLAMA_BENCH, or
.build/llama.cpp/build/bin/llama-bench; --build-llama-cpp builds it there from the source
that the PyPI sdist of llama-cpp-python 0.3.36 vendors (the llama.cpp commit the reference
vectors came from; needs cmake and g++, about 10 minutes on 2 cores).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from quiet_machine import load_note, wait_for_quiet  # noqa: E402

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


def test_name(kind: str, depth: int) -> str:
    """llama-bench's names: pp128, tg128 @ d1024."""
    return kind + (f" @ d{depth}" if depth else "")


def run_tinylm(binary: Path, model: str, threads: int, depth: int, repetitions: int) -> dict:
    out = subprocess.run([str(binary), "bench", "--model", model, "-p", "128", "-n", "128", "-t", str(threads),
                          "-d", str(depth), "-r", str(repetitions)], check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*((?:pp|tg)128(?: @ d\d+)?)\s*\|\s*([\d.]+)", line)
        if m:
            rates[m.group(2)] = float(m.group(3))
    return rates


def run_llama(binary: Path, model: str, threads: int, depth: int, repetitions: int) -> dict:
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent))
    out = subprocess.run([str(binary), "-m", model, "-p", "128", "-n", "128", "-t", str(threads), "-d", str(depth),
                          "-r", str(repetitions), "-o", "json"], check=True, capture_output=True, text=True, env=env).stdout
    rates = {}
    for row in json.loads(out):
        rates[test_name("pp128" if row["n_prompt"] else "tg128", row.get("n_depth", 0))] = row["avg_ts"]
    return rates


def llama_version(binary: Path) -> str:
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent))
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, env=env)
    match = re.search(r"commit (\w+)", result.stdout + result.stderr)
    return f"commit {match.group(1)}" if match else "version unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--depths", default="0", help="context depths (llama-bench -d), e.g. 0,1024,4096")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=3, help="repetitions inside each bench call")
    parser.add_argument("--llama-bench")
    parser.add_argument("--build-llama-cpp", action="store_true")
    parser.add_argument("--max-busy", type=float, default=0.25, help="quiet: fewer CPU cores busy than this (3 s)")
    parser.add_argument("--max-load", type=float, default=None, help="quiet: 1-minute load average below this (default: CPUs)")
    parser.add_argument("--quiet-timeout", type=float, default=300, help="seconds to wait for quiet before each call")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    depths = [int(d) for d in args.depths.split(",")]

    subprocess.run(["swift", "build", "-c", "release", "--product", "tinylm"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    tinylm = ROOT / ".build" / "release" / "tinylm"
    llama = find_llama_bench(args)
    if llama is None:
        print("llama-bench not found (use --build-llama-cpp or --llama-bench PATH); TinyLM only", file=sys.stderr)

    log = lambda message: print(f"  {message}", file=sys.stderr, flush=True)  # noqa: E731
    quiet_records = []

    def quietly(call, *call_args):
        quiet_records.append(wait_for_quiet(args.max_busy, args.max_load, timeout=args.quiet_timeout, log=log))
        return call(*call_args)

    ours, theirs = {}, {}  # (threads, test) → [t/s]
    for round_index in range(args.rounds):
        for threads in thread_counts:
            for depth in depths:
                log(f"round {round_index + 1}/{args.rounds}: {threads} thread(s), depth {depth}")
                for test, rate in quietly(run_tinylm, tinylm, args.model, threads, depth, args.repetitions).items():
                    ours.setdefault((threads, test), []).append(rate)
                if llama:
                    for test, rate in quietly(run_llama, llama, args.model, threads, depth, args.repetitions).items():
                        theirs.setdefault((threads, test), []).append(rate)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    model = Path(args.model)
    print(f"{model.name} ({model.stat().st_size / 2**20:.1f} MiB), {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{cpu} ({os.cpu_count()} CPUs); llama.cpp {llama_version(llama) if llama else 'not run'}; "
          f"medians of {args.rounds} alternating rounds, {args.repetitions} repetitions per call.")
    print(f"Load: {load_note(quiet_records)}.")
    print()
    print("| threads | context | test | TinyLM t/s | llama.cpp t/s | ratio |")
    print("|---|---|---|---|---|---|")
    for threads in thread_counts:
        for depth in depths:
            for kind in ("pp128", "tg128"):
                test = test_name(kind, depth)
                a = statistics.median(ours[(threads, test)])
                b = statistics.median(theirs[(threads, test)]) if (threads, test) in theirs else None
                print(f"| {threads} | {depth} | {kind} | {a:.1f} | " + (f"{b:.1f} | {a / b:.2f} |" if b else "– | – |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
