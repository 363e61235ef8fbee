#!/usr/bin/env python3
"""Renders the reference chat templates with Python's jinja2 and with `tinylm template` on many
contexts beyond the reference cases (tools None/[]/odd shapes, content None or in parts,
tool_calls None, arguments as JSON text, messages None) and reports every difference: an
output that differs, or one side raising where the other renders.

    swift build -c release --product tinylm
    python3 scripts/compare-templates.py [--tinylm .build/release/tinylm] [--templates DIR]

jinja2 is set up as ../shared/reference/chat-templates/render.py (and Hugging Face) sets it up.
Exit status 1 when anything differs.
"""
import argparse, copy, datetime, difflib, json, os, subprocess, sys, tempfile

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--tinylm", default=os.path.join(root, ".build/release/tinylm"))
parser.add_argument("--templates", default=os.path.join(root, "../shared/reference/chat-templates/templates"))
args = parser.parse_args()


class GenerationBlock(Extension):
    tags = {"generation"}

    def parse(self, parser):
        line = next(parser.stream).lineno
        return nodes.Scope(parser.parse_statements(["name:endgeneration"], drop_needle=True), lineno=line)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=["jinja2.ext.loopcontrols", GenerationBlock])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: datetime.datetime(2026, 1, 2, 3, 4, 5).strftime(fmt)

weather = {"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
clock = {"type": "function", "function": {"name": "now", "description": "Current time"}}
search = {"type": "function", "function": {"name": "search", "description": "Search", "parameters": {
    "type": "object", "required": ["q"], "properties": {
        "q": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}}, "opt": {"type": ["string", "null"]},
        "obj": {"type": "object", "properties": {"x": {"type": "number"}}}, "any": {}}}}}
base_cases = {
    "single_user": dict(messages=[{"role": "user", "content": "Hello!"}], add_generation_prompt=True),
    "system_multi_turn": dict(messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
                                       {"role": "assistant", "content": "4."}, {"role": "user", "content": "And 3+3?"}],
                              add_generation_prompt=True),
    "no_generation_prompt": dict(messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
                                 add_generation_prompt=False),
    "tools": dict(messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[weather], add_generation_prompt=True),
    "tool_call_roundtrip": dict(messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
                                                             "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp_c\": 18}"}],
        tools=[weather], add_generation_prompt=True),
}


def variants():
    for name, case in base_cases.items():
        yield name, case

        def changed(suffix, change):
            v = copy.deepcopy(case)
            change(v)
            return name + "+" + suffix, v

        for label, tools in [("tools_none", None), ("tools_empty", []), ("tools_bare", [weather["function"]]),
                             ("tools_no_parameters", [clock]), ("tools_rich", [search]), ("tools_two", [weather, clock]),
                             ("tools_none_item", [None]), ("tools_function_none", [{"type": "function", "function": None}]),
                             ("tools_string", "get_weather")]:
            yield changed(label, lambda v, t=tools: v.__setitem__("tools", copy.deepcopy(t)))

        def content_none(v):
            for m in v["messages"]:
                if m["role"] == "assistant":
                    m["content"] = None

        def tool_calls_none(v):
            for m in v["messages"]:
                if m["role"] == "assistant" and "tool_calls" not in m:
                    m["tool_calls"] = None

        def content_parts(v):
            for m in v["messages"]:
                if m["role"] in ("user", "system") and isinstance(m.get("content"), str):
                    m["content"] = [{"type": "text", "text": m["content"]}]

        def arguments_text(v):
            for m in v["messages"]:
                for call in m.get("tool_calls") or []:
                    call["function"]["arguments"] = json.dumps(call["function"]["arguments"])

        yield changed("content_none", content_none)
        yield changed("tool_calls_none", tool_calls_none)
        yield changed("content_parts", content_parts)
        yield changed("arguments_text", arguments_text)
        yield changed("messages_none", lambda v: v.__setitem__("messages", None))


def tinylm_render(template_path, context):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(context, f)
    try:
        r = subprocess.run([args.tinylm, "template", "--template", template_path, "--context", f.name,
                            "--now", "2026-01-02T03:04:05"], capture_output=True)
    finally:
        os.unlink(f.name)
    return (r.stdout.decode(), None) if r.returncode == 0 else (None, r.stderr.decode().strip())


differences = total = 0
for file in sorted(f for f in os.listdir(args.templates) if f.endswith(".jinja")):
    path = os.path.join(args.templates, file)
    source = open(path, encoding="utf-8").read()
    for case, kw in variants():
        total += 1
        context = {"bos_token": "<s>", "eos_token": "</s>", **kw}
        try:
            expected, expected_error = env.from_string(source).render(**context), None
        except Exception as e:
            expected, expected_error = None, f"{type(e).__name__}: {e}"
        output, error = tinylm_render(path, context)
        if expected == output and (expected_error is None) == (error is None):
            continue
        differences += 1
        print(f"{file} / {case}: jinja2 {'raises ' + expected_error if expected_error else 'renders'}; "
              f"tinylm {'fails: ' + error if error else 'renders'}")
        if expected is not None and output is not None:
            for line in list(difflib.unified_diff(expected.splitlines(), output.splitlines(), lineterm=""))[2:10]:
                print("    " + line)
print(f"{differences} differences in {total} renders")
sys.exit(1 if differences else 0)
