#!/usr/bin/env python3
"""Embedding throughput of `tinylm embed` and llama.cpp's `llama-embedding` on the same GGUF,
run alternately (A B A B …) so that both see the same machine load; prints texts/s per
thread count and the ratio.

Workload: 32 texts of about 32 tokens each ([CLS] and [SEP] included), embedded as one batch.
- tinylm: `tinylm embed --repeat N --verbose` (the best of N passes over the batch, after
  loading);
- llama.cpp: `llama-embedding -b 1024` over the 32 texts repeated REPEAT times, so it decodes
  one batch of exactly those 32 sequences REPEAT times; the time of a batch is read from the
  timestamps of its consecutive `batch_decode` log lines (load time excluded), best of them.

usage: bench-embed.py [--model models/all-MiniLM-L6-v2.gguf] [--llama-embedding PATH]
                      [-t 1,2] [--rounds 3] [--repeat 5]
The llama.cpp binary: /work/llama.cpp/build/bin/llama-embedding or $LLAMA_EMBEDDING, built as
scripts/bench-native.py --build-llama-cpp builds it.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def texts():
    """32 deterministic English sentences, 29–32 words (31–34 tokens with [CLS] and [SEP])."""
    random.seed(1)
    words = ("the a bakery opens at seven every morning and closes in the evening fresh bread cakes pastries "
             "are baked daily with flour butter sugar eggs milk customers order online or in the shop delivery "
             "is available within the city for a small fee").split()
    return [" ".join(random.choice(words) for _ in range(28)).capitalize() + "." for _ in range(32)]


def run_tinylm(tool, model, batch, threads, repeat):
    out = subprocess.run([tool, "embed", "--model", model, "--threads", str(threads), "--repeat", str(repeat), "--verbose", "--"] + batch,
                         capture_output=True, text=True, check=True)
    m = re.search(r"\[(\d+) texts, (\d+) tokens: ([\d.]+) ms", out.stderr)
    return float(m.group(3)) / 1000, int(m.group(2))


def run_llama(binary, model, path, threads, count):
    out = subprocess.run([binary, "-m", model, "-f", path, "-t", str(threads), "-b", "1024", "-ub", "1024", "-c", "1024",
                          "--embd-output-format", "array"], capture_output=True, text=True, check=True)
    stamps = []
    for line in out.stderr.splitlines():
        m = re.match(r"(\d+)\.(\d+)\.(\d+)\.(\d+) I batch_decode: n_tokens = (\d+), n_seq = (\d+)", line)
        if m:
            if int(m.group(6)) != count:
                raise SystemExit(f"llama-embedding batched {m.group(6)} sequences, expected {count}")
            # The log's elapsed-time prefix: minutes.seconds.milliseconds.microseconds.
            mi, s, ms, us = (int(g) for g in m.groups()[:4])
            stamps.append(mi * 60 + s + ms / 1e3 + us / 1e6)
    # Each batch_decode line is printed as that batch starts: consecutive lines are one batch apart.
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return min(gaps)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "models/all-MiniLM-L6-v2.gguf"))
    p.add_argument("--llama-embedding", default=os.environ.get("LLAMA_EMBEDDING", "/work/llama.cpp/build/bin/llama-embedding"))
    p.add_argument("--tinylm", default=os.path.join(ROOT, ".build/release/tinylm"))
    p.add_argument("-t", "--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    for path, hint in ((a.tinylm, "swift build -c release"), (a.llama_embedding, "scripts/bench-native.py --build-llama-cpp"), (a.model, "scripts/fetch-models.sh minilm")):
        if not os.path.exists(path):
            raise SystemExit(f"missing {path} ({hint})")
    batch = texts()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for _ in range(a.repeat + 1):
            f.write("\n".join(batch) + "\n")
        llama_input = f.name
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print("threads  tinylm texts/s  llama.cpp texts/s  ratio (tinylm / llama.cpp), per round")
    for threads in (int(t) for t in a.threads.split(",")):
        ours, theirs = [], []
        for _ in range(a.rounds):
            seconds, tokens = run_tinylm(a.tinylm, a.model, batch, threads, a.repeat)
            ours.append(len(batch) / seconds)
            theirs.append(len(batch) / run_llama(a.llama_embedding, a.model, llama_input, threads, len(batch)))
        ratios = " ".join(f"{o / t:.2f}" for o, t in zip(ours, theirs))
        print(f"{threads:7d}  {max(ours):14.1f}  {max(theirs):17.1f}  {max(ours) / max(theirs):.2f} (rounds: {ratios})  [{tokens} tokens per batch]")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    os.unlink(llama_input)


if __name__ == "__main__":
    main()
