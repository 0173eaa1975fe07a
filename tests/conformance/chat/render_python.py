#!/usr/bin/env python3
"""Peer renderer: Python Jinja2 (Debian python3-jinja2) set up the way transformers'
apply_chat_template sets it up, so fthost can be checked against the reference semantics.

Environment (transformers utils/chat_template_utils.py, _compile_jinja_template): an
ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True, the loopcontrols
extension and a `{% generation %}` tag; `tojson` is json.dumps(ensure_ascii=False, ...);
globals raise_exception and strftime_now. Render arguments default tools/documents to None.

Input: cases JSON [{name, template, context, now?}] (argv[1]). Output (stdout): JSON list of
{name, text, spans} or {name, error}; spans are UTF-8 byte offsets of {% generation %} output.
With `--repeat N` (argv[2:]) it times instead: "name<TAB>microseconds per render" per case.
"""
import json
import sys
import time
from datetime import datetime

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationSpans(Extension):
    """{% generation %}...{% endgeneration %}: renders its body and records where it lands."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        self.emitted = None  # list of strings yielded so far by the top-level render
        self.spans = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_record", [])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _record(self, caller):
        text = caller()
        if self.spans is not None:
            start = sum(len(s) for s in self.emitted)
            self.spans.append((start, start + len(text)))
        return text


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationSpans, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    tracker = env.extensions[GenerationSpans.identifier]
    repeat = int(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--repeat" else 0
    if repeat:
        for case in cases:
            now = case.get("now")
            env.globals["strftime_now"] = lambda fmt, now=now: datetime.fromtimestamp(now).strftime(fmt)
            try:
                template = env.from_string(case["template"])
                ctx = {"tools": None, "documents": None, "add_generation_prompt": False, **case["context"]}
                t0 = time.perf_counter()
                for _ in range(repeat):
                    template.render(**ctx)
                print(f"{case['name']}\t{(time.perf_counter() - t0) / repeat * 1e6}")
            except Exception:  # noqa: BLE001 - a failing case is reported, not timed
                print(f"{case['name']}\terror")
        return
    results = []
    for case in cases:
        now = case.get("now")
        env.globals["strftime_now"] = (
            lambda fmt, now=now: (datetime.fromtimestamp(now) if now is not None else datetime.now()).strftime(fmt)
        )
        out = {"name": case["name"]}
        try:
            template = env.from_string(case["template"])
            ctx = dict(case["context"])
            ctx.setdefault("tools", None)
            ctx.setdefault("documents", None)
            ctx.setdefault("add_generation_prompt", False)
            tracker.emitted, tracker.spans = [], []
            for piece in template.generate(**ctx):
                tracker.emitted.append(piece)
            text = "".join(tracker.emitted)
            spans = []
            for b, e in tracker.spans:
                bb = len(text[:b].encode("utf-8"))
                spans.append([bb, bb + len(text[b:e].encode("utf-8"))])
            out["text"] = text
            out["spans"] = spans
        except Exception as e:  # noqa: BLE001 - every template failure is a result to compare
            out["error"] = f"{type(e).__name__}: {e}"
        finally:
            tracker.emitted, tracker.spans = None, None
        results.append(out)
    json.dump(results, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
