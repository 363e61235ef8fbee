#!/usr/bin/env python3
"""llama.cpp's tokenization of a fixed set of texts, for every vocabulary of its tokenizer suite.

    python3 scripts/tokenizer-reference.py [--llama-cpp-build DIR]

Writes Tests/reference/llama-cpp-tokenizer-cases.jsonl: one line per text, with, for each
vocabulary-only GGUF file in models/tokenizer-tests/ (scripts/fetch-models.sh tokenizer-tests)
whose tokenizer TinyLM implements, llama.cpp's ids with add_special = parse_special = false (as
its test-tokenizer-0), with both true (how prompts are tokenized), and the text llama_detokenize
gives for the latter (special tokens rendered). LlamaCppTokenizerSuiteTests checks TinyLM against
it. The texts are chat prompts with the special tokens of several families plus seeded random
mixes of scripts, digits, punctuation, Unicode whitespace, combining marks and emoji.

Needs libllama: from --llama-cpp-build (a CMake build directory of llama.cpp), else it builds
the `llama` target of the llama.cpp source in the llama-cpp-python 0.3.36 sdist (the version the
suite and the reference vectors come from) in .build/llama.cpp/build, as scripts/bench-native.py
does for llama-bench (cmake and g++; about 10 minutes on 2 cores).
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "models" / "tokenizer-tests"
OUTPUT = ROOT / "Tests" / "reference" / "llama-cpp-tokenizer-cases.jsonl"
LLAMA_DIR = ROOT / ".build" / "llama.cpp"
SDIST = "llama_cpp_python-0.3.36"
# tokenizer.ggml.model values TinyLM implements.
SUPPORTED_MODELS = {"gpt2", "llama", "gemma4", "bert"}

FIXED_TEXTS = [
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|user|>\n Hello there <|end|>\n<|assistant|>\t I'm fine.<|end|>\n",
    "<s> [INST] Bonjour, ça va ? [/INST] Oui </s>  <unk> x",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
    "<|endoftext|><|endoftext|> text <|endoftext|>",
    "def f(x):\n\treturn x**2  # square\n\n\nprint(f(12345678))\r\n",
    "   leading and trailing spaces   \n\n  \t ",
    "I'm, you're, we'VE, THEY'LL, it'd, 'tis, o'clock, rock'n'roll",
    "3.14159 1,000,000 1e-9 0x1F 007 \u0661\u0662\u0663 \u00b2\u00bd \u2167",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 Stra\u00dfe \u00c5ngstr\u00f6m e\u0301 a\u0308 Vie\u0302\u0301t",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u3053\u3093\u306b\u3061\u306f \ud55c\uad6d\uc5b4 \u0928\u092e\u0938\u094d\u0924\u0947 \u0645\u0631\u062d\u0628\u0627",
    "\U0001F999 \U0001F680\U0001F44D\U0001F3FD \U0001F636\u200d\U0001F32B\ufe0f \u2764\ufe0f \u2705",
    "tab\there\u00a0nbsp\u3000ideographic\u2028line\u0085next\u000bvt\u000cff",
    "\u1f7d \u1fbe \u2126\u212a \ufb01 \uff21\uff42 \U00010400 \u0897 \u1c89",
    "<mask> [MASK] [CLS] [SEP] <pad> <|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2009",
    "\u00e9\u00e8\u00e0\u00fc\u00f6\u00df\u00e7\u00f1\u00c9\u00c5\u00f8", "\u0430\u0431\u0432\u0433\u0434\u0436\u0449\u044b\u042f",
    "\u03b1\u03b2\u03b3\u03c9\u03a9\u03a3", "\u4f60\u597d\u4e16\u754c\u9fa5\u4e00", "\uac00\ub098\ub2e4\ud55c", "\u3053\u3093\u30ab\u30bf",
    "\u0301\u0308\u0327", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947", "\U0001F999\U0001F680\U0001F600",
    "\u0660\u0661\u0662", "\u00b2\u00bd\u2167", "\uff01\uff08\uff09\uff1a\uff5e\u3001\u3002", "\u2018\u2019\u201c\u201d",
    "\u2014\u2026\u00b7", "\u20ac\u00a3\u00a5\u00a9\u00b0\u00d7", "\u200b\u200d\ufeff",
]
WORDS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'LL", "Hello", " world", "don't", "<|endoftext|>", "<s>",
         "</s>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|end|>", "<end_of_turn>", "<|eot_id|>", "1234567",
         "    ", "\n\n\n", " \n ", "ab" * 8]


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 10)):
            if rng.random() < 0.35:
                parts.append(rng.choice(WORDS))
            else:
                pool = rng.choice(POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 5))) if len(pool) > 2 else pool)
        texts.append("".join(parts))
    return texts


def build_libllama(args) -> Path:
    if args.llama_cpp_build:
        build = Path(args.llama_cpp_build).resolve()
        source = Path(next(l.split("=", 1)[1] for l in open(build / "CMakeCache.txt") if l.startswith("CMAKE_HOME_DIRECTORY")).strip())
    else:
        LLAMA_DIR.mkdir(parents=True, exist_ok=True)
        source = LLAMA_DIR / SDIST / "vendor" / "llama.cpp"
        if not source.exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                            "llama-cpp-python==0.3.36", "-d", str(LLAMA_DIR)], check=True)
            with tarfile.open(LLAMA_DIR / f"{SDIST}.tar.gz") as archive:
                archive.extractall(LLAMA_DIR)
        build = LLAMA_DIR / "build"
        if not (build / "CMakeCache.txt").exists():
            subprocess.run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                            "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                            "-DLLAMA_BUILD_SERVER=OFF"], check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "llama", "-j", str(os.cpu_count() or 2)], check=True)
    tool = build / "bin" / "llama-tokenize-cases"
    subprocess.run(["c++", "-O2", "-std=c++17", str(ROOT / "scripts" / "llama-tokenize-cases.cpp"),
                    f"-I{source / 'include'}", f"-I{source / 'ggml' / 'include'}", f"-L{build / 'bin'}",
                    "-lllama", "-lggml", "-lggml-base", f"-Wl,-rpath,{build / 'bin'}", "-o", str(tool)], check=True)
    return tool


def gguf_string(path: Path, key: str) -> str | None:
    """A string metadata value of a GGUF file (v2/v3), read without loading the file."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        def read(n):
            return f.read(n)

        def u32():
            return struct.unpack("<I", read(4))[0]

        def u64():
            return struct.unpack("<Q", read(8))[0]

        def string():
            return read(u64())

        def skip(kind):
            if kind == 8:
                f.seek(u64(), 1)
            elif kind == 9:
                element, count = u32(), u64()
                if element == 8:
                    for _ in range(count):
                        f.seek(u64(), 1)
                else:
                    f.seek(sizes[element] * count, 1)
            else:
                f.seek(sizes[kind], 1)

        if read(4) != b"GGUF" or u32() not in (2, 3):
            raise SystemExit(f"{path}: not a GGUF v2/v3 file")
        u64()  # tensors
        for _ in range(u64()):
            name = string().decode()
            kind = u32()
            if name == key and kind == 8:
                return string().decode()
            skip(kind)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-cpp-build", help="an existing CMake build directory of llama.cpp with libllama")
    args = parser.parse_args()
    if not SUITE.exists():
        sys.exit(f"missing {SUITE}: run scripts/fetch-models.sh tokenizer-tests")
    tool = build_libllama(args)

    texts = FIXED_TEXTS + random_texts(48, seed=15)
    assert all("\0" not in t for t in texts)
    texts_file = tool.parent / "tokenizer-cases.bin"
    texts_file.write_bytes(b"\0".join(t.encode("utf-8") for t in texts))

    results = [dict() for _ in texts]
    for vocab in sorted(SUITE.glob("ggml-vocab-*.gguf")):
        name = vocab.name[len("ggml-vocab-"):-len(".gguf")]
        if gguf_string(vocab, "tokenizer.ggml.model") not in SUPPORTED_MODELS:
            continue
        lines = subprocess.run([str(tool), str(vocab), str(texts_file)], check=True, capture_output=True,
                               text=True).stdout.split("\n")
        for i in range(len(texts)):
            plain, special, detokenized = lines[3 * i:3 * i + 3]
            results[i][name] = {
                "ids": [int(x) for x in plain.split()],
                "special_ids": [int(x) for x in special.split()],
                "detokenized": bytes.fromhex(detokenized).decode("utf-8"),
            }
        print(f"{name}: {len(texts)} texts", file=sys.stderr)

    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as out:
        for text, by_vocabulary in zip(texts, results):
            out.write(json.dumps({"text": text, "vocabularies": by_vocabulary}, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
