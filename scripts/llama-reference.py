#!/usr/bin/env python3
"""llama.cpp's outputs on the test models (Tests/models, made by scripts/make-test-models.py),
in the format of ../shared/reference/smollm2/ (its README describes the files):

    python3 scripts/llama-reference.py [--llama-cpp DIR | --build-llama-cpp] [--models Tests/models]
                                       [--only NAME,...] [--threads 1]

For every model it writes Tests/models/reference/<model>/: greedy.jsonl (48 greedy tokens per
prompt), greedy_steps_top5.jsonl, logits_top.jsonl, logits_full/NN_<case>.f32 (the full
last-prompt-position logits, float32), tokenize.jsonl and vocabulary.json (the ids llama.cpp
treats as end of generation); and Tests/models/reference/
manifest.json with each model file's SHA-256 and the settings. The settings are the shared
reference's: context 2048, the whole prompt in one batch, then one token per step; f16 KV
cache; flash attention on; CPU. (phi3-longrope is run a second time with context 8192, past its
original context of 4096, where LongRoPE switches to the long factors: folder
phi3-longrope-ctx8192.)

Prompts: four raw texts (BOS as the model's default policy says) and two chat prompts rendered
with the model's own chat template by jinja2 as Hugging Face renders it (strftime_now fixed at
2026-01-02 03:04:05; Gemma's test model has no template: the shared reference's Gemma turn
format), tokenized with special tokens parsed and BOS added unless the text starts with it.

llama.cpp is called through libllama by a small C program (scripts/llama-reference.c), compiled
here into .build/ against the given build. That build: --llama-cpp DIR (a cmake build
directory or its bin/), $LLAMA_CPP_DIR, or .build/llama.cpp/build, which --build-llama-cpp
makes from the llama-cpp-python 0.3.36 sdist (scripts/llama_cpp_build.py; cmake and g++).
Needs numpy, gguf and jinja2 (pip).
"""
import argparse
import datetime
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import jinja2
import numpy as np
from gguf import GGUFReader
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent))
import llama_cpp_build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LLAMA_CPP_COMMIT = "0c1e57098bba"
CONTEXT = 2048
STEPS = 48

RAW_PROMPTS = [
    ("capital_france", "The capital of France is"),
    ("once_upon", "Once upon a time, there was a little robot who"),
    ("fibonacci", "def fibonacci(n):\n    if n < 2:\n        return n\n"),
    ("apollo", "In 1969, Apollo 11 landed on the Moon. Neil Armstrong and Buzz Aldrin walked on its surface "
               "while Michael Collins orbited above. The mission"),
]
CHAT_PROMPTS = [
    ("chat_capital", "What is the capital of France?"),
    ("chat_haiku", "Write a haiku about the sea."),
]
TOKENIZE_TEXTS = [
    "Hello world",
    "Hello, world! How are you today?",
    "  leading spaces,\ttabs\nand new lines\n\n",
    "Numbers: 12345, 3.14159 and 1,000,000.",
    "Unicode: café, naïve, 日本語, emoji 🙂",
]
EXTRA_CONTEXTS = {"phi3-longrope": 8192}


class LlamaCpp:
    """The compiled helper program (scripts/llama-reference.c)."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.binary = ROOT / ".build" / "llama-reference"
        self.binary.parent.mkdir(exist_ok=True)
        includes = [f"-I{d}" for d in llama_cpp_build.include_dirs(bin_dir)]
        subprocess.run(["cc", "-O2", "-o", str(self.binary), str(ROOT / "scripts" / "llama-reference.c"), *includes,
                        f"-L{bin_dir}", "-lllama", "-lggml", "-lggml-base", f"-Wl,-rpath,{bin_dir}"], check=True)

    def call(self, *arguments, text: str | None = None) -> str:
        result = subprocess.run([str(self.binary), *map(str, arguments)], input=text.encode() if text is not None else None,
                                capture_output=True, check=False)
        if result.returncode != 0:
            sys.exit(f"llama-reference {arguments[0]} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode()

    def tokenize(self, model: Path, text: str, add_special: bool, parse_special: bool) -> list:
        out = self.call("tokenize", model, int(add_special), int(parse_special), text=text).split()
        return [int(x) for x in out]

    def pieces(self, model: Path, ids: list) -> list:
        return [bytes.fromhex(line) for line in self.call("pieces", model, *ids).splitlines()] if ids else []

    def end_of_generation(self, model: Path, ids: list) -> list:
        return [line == "1" for line in self.call("eog", model, *ids).splitlines()]

    def run(self, model: Path, prompt: list, context: int, threads: int, logits_path: Path) -> list:
        out = self.call("run", model, context, STEPS, threads, logits_path, *prompt)
        return [int(x) for x in out.split()]


def chat_environment() -> ImmutableSandboxedEnvironment:
    """jinja2 set up the way Hugging Face transformers renders chat templates."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime(2026, 1, 2, 3, 4, 5).strftime(fmt)
    return env


def gguf_string(reader: GGUFReader, key: str) -> str | None:
    field = reader.fields.get(key)
    return bytes(field.parts[-1]).decode("utf-8") if field else None


def gguf_int(reader: GGUFReader, key: str) -> int | None:
    field = reader.fields.get(key)
    return int(field.parts[-1][0]) if field else None


def token_text(reader: GGUFReader, token_id: int | None) -> str:
    if token_id is None:
        return ""
    field = reader.fields["tokenizer.ggml.tokens"]
    return bytes(field.parts[field.data[token_id]]).decode("utf-8")


def chat_prompt(reader: GGUFReader, message: str) -> str:
    source = gguf_string(reader, "tokenizer.chat_template")
    if source is None:  # the Gemma turn format of the shared reference
        return f"<start_of_turn>user\n{message}<end_of_turn>\n<start_of_turn>model\n"
    bos = token_text(reader, gguf_int(reader, "tokenizer.ggml.bos_token_id"))
    eos = token_text(reader, gguf_int(reader, "tokenizer.ggml.eos_token_id"))
    return chat_environment().from_string(source).render(
        messages=[{"role": "user", "content": message}], add_generation_prompt=True, bos_token=bos, eos_token=eos)


def write_lines(path: Path, records: list):
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def top(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest logits, largest first, ties to the lowest id."""
    return np.lexsort((np.arange(len(logits)), -logits))[:k]


def reference_for(llama: LlamaCpp, model_path: Path, folder: Path, context: int, threads: int):
    reader = GGUFReader(model_path)
    bos_text = token_text(reader, gguf_int(reader, "tokenizer.ggml.bos_token_id"))
    cases = [(name, "raw", text, None, None) for name, text in RAW_PROMPTS]
    for name, message in CHAT_PROMPTS:
        text = chat_prompt(reader, message)
        cases.append((name, "chat", text, not (bos_text and text.startswith(bos_text)), message))
    (folder / "logits_full").mkdir(parents=True, exist_ok=True)
    for old in (folder / "logits_full").glob("*.f32"):
        old.unlink()
    greedy, steps_lines, logits_lines = [], [], []
    for index, (name, kind, text, add_special, message) in enumerate(cases):
        if add_special is None:  # raw: the model's default BOS policy
            with_bos = llama.tokenize(model_path, text, True, True)
            add_special = True
            prompt = with_bos
        else:
            prompt = llama.tokenize(model_path, text, add_special, True)
        bos_added = add_special and len(prompt) > 0 and prompt != llama.tokenize(model_path, text, False, True)
        logits_path = folder / "logits_full" / f"{index:02d}_{name}.all.f32"
        generated = llama.run(model_path, prompt, context, threads, logits_path)
        all_logits = np.fromfile(logits_path, dtype=np.float32).reshape(STEPS, -1)
        logits_path.unlink()
        vocabulary = all_logits.shape[1]
        assert list(int(np.argmax(row)) for row in all_logits) == generated
        all_logits[0].tofile(folder / "logits_full" / f"{index:02d}_{name}.f32")
        pieces = llama.pieces(model_path, generated)
        eog = llama.end_of_generation(model_path, generated)
        first_eog = eog.index(True) if True in eog else -1
        until = generated if first_eog < 0 else generated[:first_eog]
        gaps, steps = [], []
        for row in all_logits:
            best = top(row, 5)
            gaps.append(round(float(row[best[0]] - row[best[1]]), 4))
            steps.append({"ids": [int(i) for i in best], "logits": [float(row[i]) for i in best]})
        greedy.append({
            "name": name, "kind": kind, "prompt_text": text, "prompt_ids": prompt, "n_prompt": len(prompt),
            "bos_added": bool(bos_added), "gen_ids": generated,
            "gen_text": b"".join(pieces).decode("utf-8", errors="replace"), "first_eog_index": first_eog,
            "gen_ids_until_eog": until,
            "gen_text_until_eog": b"".join(pieces[:len(until)]).decode("utf-8", errors="replace"),
            "gen_pieces_hex": [p.hex() for p in pieces], "top1_top2_gap": gaps,
        })
        if message is not None:  # (not in the shared reference's format: the chat's one user message)
            greedy[-1]["user_message"] = message
        steps_lines.append({"name": name, "prompt_ids": prompt, "gen_ids": generated,
                            "note": "steps[i] = top-5 (ids, logits) of the distribution from which gen_ids[i] "
                                    "was picked (teacher-forced on gen_ids[:i])", "steps": steps})
        first = all_logits[0].astype(np.float64)
        best = top(all_logits[0], 10)
        log_z = np.log(np.sum(np.exp(first - first.max()))) + first.max()
        logits_lines.append({
            "name": name, "kind": kind, "prompt_ids": prompt, "n_vocab": vocabulary,
            "top_ids": [int(i) for i in best], "top_logits": [float(all_logits[0][i]) for i in best],
            "top_pieces": [p.decode("utf-8", errors="replace") for p in llama.pieces(model_path, [int(i) for i in best])],
            "top_logprobs": [float(first[i] - log_z) for i in best],
        })
    write_lines(folder / "greedy.jsonl", greedy)
    write_lines(folder / "greedy_steps_top5.jsonl", steps_lines)
    write_lines(folder / "logits_top.jsonl", logits_lines)

    texts = TOKENIZE_TEXTS + [bos_text + " and text after a special token" if bos_text else "no special token"]
    lines = []
    for text in texts:
        with_special = llama.tokenize(model_path, text, False, True)
        without = llama.tokenize(model_path, text, False, False)
        for parse_special, ids in ((True, with_special), (False, without)):
            if parse_special is False and ids == with_special:
                continue
            pieces = llama.pieces(model_path, ids)
            lines.append({"text": text, "parse_special": parse_special, "add_special": False, "ids": ids,
                          "pieces": [p.decode("utf-8", errors="replace") for p in pieces]})
    write_lines(folder / "tokenize.jsonl", lines)

    # Which tokens end a generation (llama.cpp's list, from the vocabulary's texts and ids).
    count = len(reader.fields["tokenizer.ggml.tokens"].data)
    flags = []
    for start in range(0, count, 4096):
        flags += llama.end_of_generation(model_path, list(range(start, min(count, start + 4096))))
    (folder / "vocabulary.json").write_text(json.dumps({"end_of_generation_ids": [i for i, f in enumerate(flags) if f]}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=str(ROOT / "Tests" / "models"))
    parser.add_argument("--only", help="comma-separated model names (file names without .gguf)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--llama-cpp", help="a llama.cpp build directory (with bin/libllama.so)")
    parser.add_argument("--build-llama-cpp", action="store_true", help="build llama.cpp into .build/llama.cpp if needed")
    args = parser.parse_args()
    llama = LlamaCpp(llama_cpp_build.find(args.llama_cpp, build_if_missing=args.build_llama_cpp))
    models = Path(args.models)
    reference = models / "reference"
    manifest_path = reference / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    only = set(args.only.split(",")) if args.only else None
    for path in sorted(models.glob("*.gguf")):
        name = path.stem
        if only and name not in only:
            continue
        runs = [(name, CONTEXT)] + ([(f"{name}-ctx{EXTRA_CONTEXTS[name]}", EXTRA_CONTEXTS[name])] if name in EXTRA_CONTEXTS else [])
        for folder_name, context in runs:
            reference_for(llama, path, reference / folder_name, context, args.threads)
            manifest[folder_name] = {"model": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                     "context": context, "threads": args.threads, "llama.cpp": LLAMA_CPP_COMMIT,
                                     "flash_attention": True, "kv_cache": "f16", "steps": STEPS}
            print(f"{folder_name}: done")
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
