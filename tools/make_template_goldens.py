#!/usr/bin/python3
# tools/make_template_goldens.py: renders chat templates and feature snippets with Python's jinja2 (the
# test oracle only; strata never runs Python) and writes the goldens the C++ tests compare against:
#   tests/chat/data/chat_template_goldens.json  every ../shared/templates/*.jinja x conversations
#   tests/jinja/data/jinja_snippet_goldens.json  small templates exercising one feature each
# Run from anywhere with Debian's Python (python3-jinja2): /usr/bin/python3 tools/make_template_goldens.py
# "hf" mode is the environment transformers' apply_chat_template builds; "jinja" mode is jinja2's defaults.

import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.normpath(os.path.join(ROOT, "..", "shared", "templates"))
OUT_CHAT = os.path.join(ROOT, "tests", "chat", "data")
OUT_JINJA = os.path.join(ROOT, "tests", "jinja", "data")

# strftime_now reads this fixed instant so goldens are reproducible; the C++ test sets the same time.
NOW = datetime.datetime(2025, 3, 14, 9, 26, 53)


class TemplateRaised(Exception):
    pass


def raise_exception(message):
    raise TemplateRaised(message)


def hf_tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers overrides jinja's HTML-safe tojson with plain json.dumps and these arguments.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return NOW.strftime(fmt)


def make_env(mode):
    if mode == "hf":
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[jinja2.ext.loopcontrols])
        env.filters["tojson"] = hf_tojson
    else:
        env = jinja2.Environment(extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(mode, source, variables):
    """Returns {"expected": text} or {"error": message, "raised": bool}."""
    try:
        return {"expected": make_env(mode).from_string(source).render(**variables)}
    except TemplateRaised as e:
        return {"error": str(e), "raised": True}
    except Exception as e:  # noqa: BLE001 - any jinja2 failure is a golden error case
        return {"error": f"{type(e).__name__}: {e}", "raised": False}


# ----- conversations -----

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris or 東京"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "  Unit to report.  "},
            "days": {"type": "integer", "description": "Forecast days"},
        }, "required": ["city"]},
    }},
    {"type": "function", "function": {
        "name": "search_notes",
        "description": "Search notes; returns <matches> & scores.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "Text to find"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"},
            "filters": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Ranges"},
            "limit": {"type": "number", "description": "Max results", "default": 2.5},
            "exact": {"type": "boolean", "description": "Exact match"},
        }},
        "return": {"type": "array", "description": "Matching note ids"},
    }},
]

# Hermes 3's json_to_python_type recurses forever on a union with a non-basic type ("null"): jinja2 fails
# with RecursionError, and the engine must fail too (its macro depth limit) rather than crash.
TOOLS_UNION = [{"type": "function", "function": {
    "name": "lookup", "description": "Look up a key.",
    "parameters": {"type": "object", "properties": {"key": {"type": ["string", "null"], "description": "Key"}}}}}]

TOOL_CALL = {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
TOOL_CALL_STRING_ARGS = {"id": "call12345", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}

CONVERSATIONS = {
    "system_user": {"messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "What is the capital of France?"}]},
    "user_only": {"messages": [{"role": "user", "content": "Hello!"}]},
    "multi_turn": {"messages": [
        {"role": "user", "content": "Hi, who are you?"},
        {"role": "assistant", "content": "I am a helpful assistant."},
        {"role": "user", "content": "Tell me a joke."}]},
    "system_multi_turn": {"messages": [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "Why is the sky blue?"},
        {"role": "assistant", "content": "Rayleigh scattering favours short wavelengths."},
        {"role": "user", "content": "And sunsets?"}]},
    "ends_with_assistant": {"messages": [
        {"role": "user", "content": "Count to three."},
        {"role": "assistant", "content": "One, two, three."}]},
    "unicode": {"messages": [
        {"role": "user", "content": "Ünïcödé: 東京は晴れ 🌤️ — «quotes» “curly” \\ back\\slash 'single' \"double\""},
        {"role": "assistant", "content": "Ответ: ça va ✓ \u00a0nbsp\u2009thin"},
        {"role": "user", "content": "emoji 👩‍💻 and tab\tinside"}]},
    "whitespace": {"messages": [
        {"role": "system", "content": "  \n system with spaces \t\n"},
        {"role": "user", "content": "\n\n  leading and trailing  \n\t "},
        {"role": "assistant", "content": "   answer   "},
        {"role": "user", "content": "\u3000ideographic space\u3000"}]},
    "empty_content": {"messages": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "again"}]},
    "think": {"messages": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
        {"role": "user", "content": "3+3?"}]},
    "tools": {"tools": TOOLS, "messages": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21 °C and clear."},
        {"role": "user", "content": "Thanks!"}]},
    "tools_no_system": {"tools": TOOLS, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "still sunny"}]},
    "tools_string_args": {"tools": TOOLS, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL_STRING_ARGS, TOOL_CALL_STRING_ARGS]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "warm"},
        {"role": "assistant", "content": "Sunny and warm."}]},
    "tools_union_type": {"tools": TOOLS_UNION, "messages": [{"role": "user", "content": "Look up x"}]},
    "tool_result_object": {"tools": TOOLS[:1], "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "content": {"temp": 21, "ok": True, "note": None}}]},
    # Thinking models: reasoning as a separate field (Qwen3, QwQ style) and as gpt-oss's "thinking".
    "reasoning_content": {"messages": [
        {"role": "system", "content": "Think step by step."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "\nTwo plus two.\n", "thinking": "Two plus two."},
        {"role": "user", "content": "3+3?"}]},
    "reasoning_tools": {"tools": TOOLS, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "Need the weather tool.",
         "thinking": "Need the weather tool.", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "<tool_response>sunny</tool_response>"},
        {"role": "assistant", "content": "<think>\nIt is sunny.\n</think>\n\nSunny.", "thinking": "It is sunny."},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [TOOL_CALL, TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "rain"}]},
    "developer": {"tools": TOOLS[:1], "messages": [
        {"role": "developer", "content": "Only answer about weather."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "content": "sunny"}]},
}

# Per-template special tokens (as the models' tokenizer_config.json define them; None = not passed).
TOKENS = {
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": (None, "<|im_end|>"),
    "chatml.jinja": (None, None),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
    "mistralai-Mixtral-8x7B-Instruct-v0.1.jinja": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("<s>", "</s>"),
    "Qwen-Qwen3-0.6B.jinja": (None, "<|im_end|>"),
    "Qwen-QwQ-32B.jinja": (None, "<|im_end|>"),
    "Qwen3-Coder.jinja": (None, "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "openai-gpt-oss-120b.jinja": ("<|startoftext|>", "<|return|>"),
}

THINKING_EXTRAS = [{"enable_thinking": False}, {"enable_thinking": True}]
GPT_OSS_EXTRAS = [
    {"reasoning_effort": "high"},
    {"reasoning_effort": "low", "model_identity": "You are a test model."},
    {"builtin_tools": ["browser", "python"]},
]

LLAMA_EXTRAS = [
    {"date_string": "01 Jan 2025"},
    {"tools_in_user_message": False},
    {"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]},
]


def variables_for(template, conversation, add_generation_prompt, extra):
    conv = CONVERSATIONS[conversation]
    # Like transformers: messages, tools (None when absent), add_generation_prompt, special tokens.
    variables = {"messages": conv["messages"], "tools": conv.get("tools"), "add_generation_prompt": add_generation_prompt}
    bos, eos = TOKENS.get(template, (None, None))
    if bos is not None:
        variables["bos_token"] = bos
    if eos is not None:
        variables["eos_token"] = eos
    variables.update(extra)
    return variables


def merge_system(messages):
    """The fix-up render_chat applies when a template refuses the system role (docs/chat_templates.md)."""
    if not messages or messages[0]["role"] != "system":
        return None
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for m in rest:
        if m["role"] == "user":
            m["content"] = system + "\n\n" + m["content"]
            return rest
    return [{"role": "user", "content": system}] + rest


def template_cases():
    cases = []
    for template in sorted(os.listdir(TEMPLATES)):
        if not template.endswith(".jinja"):
            continue
        with open(os.path.join(TEMPLATES, template), encoding="utf-8") as f:
            source = f.read()
        extras = [{}] + (LLAMA_EXTRAS if "Llama-3" in template and "Hermes" not in template else [])
        extras += THINKING_EXTRAS if "Qwen3" in template else []
        extras += GPT_OSS_EXTRAS if "gpt-oss" in template else []
        for conversation in CONVERSATIONS:
            for extra in extras:
                if extra and conversation not in ("tools", "system_user", "reasoning_tools", "developer"):
                    continue
                for mode in ("hf", "jinja"):
                    if mode == "jinja" and (extra or conversation not in ("system_user", "multi_turn", "tools", "whitespace")):
                        continue
                    for agp in (True, False):
                        variables = variables_for(template, conversation, agp, extra)
                        case = {"template": template, "conversation": conversation, "mode": mode,
                                "add_generation_prompt": agp, "bos_token": variables.get("bos_token"),
                                "eos_token": variables.get("eos_token"), "extra": extra}
                        case.update(render(mode, source, variables))
                        # Templates that refuse a system message: what render_chat's merge fix-up must give.
                        if case.get("raised") and mode == "hf":
                            merged = merge_system(CONVERSATIONS[conversation]["messages"])
                            if merged is not None:
                                fixed = render(mode, source, dict(variables, messages=merged))
                                if "expected" in fixed:
                                    case["merged_system_expected"] = fixed["expected"]
                        cases.append(case)
    return cases


# ----- feature snippets: (template, variables) -----

SNIPPETS = [
    # whitespace control, trim_blocks / lstrip_blocks, comments, raw
    ("  {% if true %}\n  x\n  {% endif %}\n  y  \n{{ 'z' }}\n", {}),
    ("a  {%+ if true %}x{% endif %}\n  {# c #}\nq  {#- c -#}  \nz {{+ 1 }}", {}),
    ("{% raw %}\n{{ x }}{% endraw %}\nnext", {}),
    ("x\n  {%- raw -%}  {{ x }}  {%- endraw %}  y", {}),
    ("<{%- if true -%}>  a  <{%- endif -%}>", {}),
    ("a\n{{- ' b ' -}}\nc", {}),
    ("line1\n    {% for i in [1,2] %}\n    item {{ i }}\n    {% endfor %}\nend", {}),
    ("{% for i in [1,2] +%}\n{{ i }}{% endfor %}", {}),
    ("\t{% if true %}tab{% endif %}\n\t{{ 'v' }}\n", {}),
    ("{#\nmulti\nline\n#}\nafter", {}),
    ("keep\n\n", {}),
    ("crlf\r\nline\rend\r\n{{ 'x' }}\r\n", {}),
    ("{% if true %}\r\nyes\r\n{% endif %}\r\n", {}),
    ("{{ {'a': {'b': 1}} }}", {}),
    ("{{ [1, 2,] }} {{ (1,) }} {{ () }} {{ {'k': [1, {'x': none}],} }}", {}),
    # literals and printing
    ("{{ 1.0 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.1+0.2 }} {{ 10/4 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 2**-1 }} {{ 1e16 }} {{ 1.5e16 }}", {}),
    ("{{ 123456789.125 }} {{ 0.0001 }} {{ -0.0 }} {{ 1_000 }} {{ 0x1F }} {{ 0b101 }} {{ 0o17 }} {{ 1_0.5e1_0 }}", {}),
    ("{{ [1,'a',none,true,{'k':'v\"\\''}] }} {{ ('a',) }} {{ (1,2) }} {{ 'it\\'s' }} {{ ['it\\'s', \"q\\\"\"] }}", {}),
    ("{{ ['\\n\\t\\x01\\x7f\\u00a0é\\u2028'] }}", {}),
    ("{{ 'a\\qb\\x41\\u00e9\\101\\'\\\"' }}|{{ 'multi\nline' }}|{{ \"a\" 'b' \"c\" }}", {}),
    ("{{ none }} {{ true }} {{ True }} {{ False }} {{ None }} {{ undefined_thing }}|", {}),
    ("{{ n }} {{ f }} {{ b }} {{ s }} {{ l }} {{ d }}", {"n": 42, "f": 2.5, "b": False, "s": "str", "l": [1, "x", 2.0], "d": {"k": None, "z": [True]}}),
    # operators and precedence
    ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 7 / 2 * 2 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true ~ 2.0 }} {{ 'x' in 'xyz' }} {{ 2 not in [1,3] }} {{ 'k' in {'k': 1} }} {{ not 1 in [1] }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ [1] == (1,) }} {{ 'B' < 'a' }} {{ [1,2] < [1,3] }} {{ none == none }}", {}),
    ("{{ 1 and 2 }} {{ 0 or 'x' }} {{ '' or [] }} {{ none and 1 }} {{ not '' }} {{ not not 3 }}", {}),
    ("{{ 'y' if x else 'n' }} {{ 'y' if not x else 'n' }} {{ 'a' if false }}|{{ 1 if true else 2 if true else 3 }}", {"x": [0]}),
    ("{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 3 * 'x' }} {{ true + true }} {{ 7 % -3 }} {{ -7.5 % 2 }} {{ 7.5 // 2 }} {{ 2 ** 0.5 }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{{ x + 1 }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ 1 in 'abc' }}", {}),
    ("{{ 'x' in none }}", {}),
    ("{{ [1] + (2,) }}", {}),
    # subscripts, slices, attributes
    ("{{ 'abc'[::-1] }} {{ 'héllo'[1:3] }} {{ [1,2,3][-1] }} {{ [1,2,3][5] }}| {{ s[1:] }} {{ s[:-1] }} {{ s[::2] }} {{ l[1:] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[5:] }}", {"s": "héllo wörld", "l": [1, 2, 3, 4]}),
    ("{{ l[1:none] }} {{ l[-100:100] }} {{ l[3:1:-1] }} {{ 'abcdef'[-1:-5:-2] }} {{ 'ab'[5] is defined }} {{ l.0 }} {{ l[true] }}", {"l": [1, 2, 3, 4]}),
    ("{{ d.a }} {{ d['a'] }} {{ d.missing is defined }} {{ d['b']['c'] }} {{ d.b.c }} {{ d.items is defined }} {{ d['items'] is defined }}", {"d": {"a": 1, "b": {"c": "deep"}}}),
    ("{{ x.y }}", {}),
    ("{{ x.y is defined }}", {}),
    ("{{ none.x is defined }} {{ (1).x is defined }} {{ 'abc'.foo is defined }} {{ [1,2].append is defined }}", {}, ["hf"]),
    ("{{ x['a'] }}", {"x": None}),
    ("{{ messages[0]['role'] }}", {"messages": []}),
    # string methods
    ("{{ '  a b  '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ ' x  y '.split(none, 1) }}", {}),
    ("{{ 'hello world'.title() }} {{ \"they're bill's\"|title }} {{ \"they're\".title() }} {{ 'HeLLo'.upper() }} {{ 'HeLLo'.lower() }} {{ 'hELLO wORLD'.capitalize() }}", {}),
    ("[{{ '  x \\n'.strip() }}] [{{ '  x '.lstrip() }}] [{{ '  x '.rstrip() }}] [{{ 'xxhixx'.strip('x') }}] [{{ '\\u3000u\\u00a0'.strip() }}]", {}),
    ("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('x') }}", {}),
    ("{{ 'a-b-c'.replace('-', '+') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'ab'.replace('', '.') }} {{ 'abc'.find('c') }} {{ 'héllo'.find('l') }} {{ 'abc'.find('z') }} {{ 'aaa'.count('a') }}", {}),
    ("{{ ','.join(['a','b']) }} {{ '12'.isdigit() }} {{ ''.isdigit() }} {{ 'ab'.isalpha() }} {{ 'a1'.isalnum() }} {{ ' '.isspace() }} {{ 'ab'.islower() }} {{ 'AB'.isupper() }}", {}),
    ("{{ 'ab'.center(7, '*') }}|{{ 'ab'.center(6) }}|{{ '-5'.zfill(5) }}|{{ 'a{}b{x}{{}}'.format(1, x=2) }}|{{ 'x'.ljust(3) }}|{{ 'x'.rjust(3, '.') }}", {}),
    ("{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'abc'.removeprefix('a') }} {{ 'abc'.removesuffix('c') }}", {}),
    ("{% set content = 'x</think>y</think>z' %}{% if '</think>' in content %}{{ content.split('</think>')[-1] }}{% endif %}", {}),
    # dict and list methods
    ("{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('b') }} {{ d.get('z', 7) }} {{ d.get('z') }}", {"d": {"a": 1, "b": 2}}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ [1,2,2].index(2) }} {{ [1,2,2].count(2) }}", {"d": {"b": 1, "a": [2]}}),
    ("{{ [1].append(2) }}", {}, ["hf"]),  # the immutable sandbox refuses; plain jinja2 would mutate
    # filters
    ("[{{ '  x  '|trim }}] [{{ 'xxhixx'|trim('x') }}] [{{ none|trim }}] [{{ 5|trim }}] [{{ x|trim }}]", {}),
    ("{{ 'abc'|length }} {{ 'héllo'|length }} {{ [1,2]|length }} {{ {'a':1}|length }} {{ x|length }} {{ [1,2]|count }}", {}),
    ("{{ 'Hello'|upper }} {{ 'Hello'|lower }} {{ 'hello wORLD'|capitalize }} {{ 'hello-world (x) [y]'|title }} {{ 'a,b'|replace(',', ';') }} {{ 'aaa'|replace('a','b',2) }}", {}),
    ("{{ [1,2]|join }} {{ [1,2]|join(', ') }} {{ [{'n':'a'},{'n':'b'}]|join(', ', attribute='n') }} {{ 'abc'|join('-') }} {{ {'x':1,'y':2}|join }}", {}),
    ("{{ x|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|default('n') }} {{ x|d('dd') }} {{ 0|default(5, boolean=true) }}", {}),
    ("{{ 'abc'|first }} {{ {'a':1,'b':2}|first }} {{ {'a':1,'b':2}|last }} {{ []|first }}| {{ 'abc'|last }} {{ 'abc'|reverse }} {{ [1,2]|reverse|list }} {{ 'abc'|list }}", {}),
    ("{{ {'b':1,'a':2}|items|list }} {{ x|items|list }} {{ {'b':1,'a':2}|dictsort }} {{ {'b':1,'a':2}|dictsort(by='value') }} {{ {'b':1,'A':2}|dictsort(reverse=true) }}", {}),
    ("{{ ['b','A','c']|sort }} {{ ['b','A','c']|sort(case_sensitive=true) }} {{ [3,1,2]|sort(reverse=true) }} {{ [{'a':2},{'a':1}]|sort(attribute='a') }}", {}),
    ("{{ ['a','A','b']|unique|list }} {{ ['b','A','c']|min }} {{ ['b','A','c']|max }} {{ []|max }}| {{ [1,2,3]|sum }} {{ [{'x':1},{'x':2}]|sum(attribute='x') }} {{ [[1],[2]]|sum(start=[]) }}", {}),
    ("{{ [1,2,3]|map('string')|join(',') }} {{ [{'a':'x'},{}]|map(attribute='a', default='d')|list }} {{ ['a','b']|map('upper')|list }} {{ [{'a':{'b':1}}]|map(attribute='a.b')|list }}", {}),
    ("{{ [1,2,3,4]|select('odd')|list }} {{ [1,0,2]|select|list }} {{ [1,2,3]|reject('gt', 1)|list }} {{ msgs|selectattr('r','equalto','u')|list }} {{ msgs|rejectattr('r', 'eq', 'u')|map(attribute='r')|list }} {{ [{'r':1},{}]|selectattr('r')|list }}", {"msgs": [{"r": "u"}, {"r": "a"}, {"r": "u"}]}),
    ("{{ tools|selectattr('type', 'equalto', 'function')|map(attribute='function.name')|join('|') }}", {"tools": [{"type": "function", "function": {"name": "f1"}}, {"type": "x"}, {"type": "function", "function": {"name": "f2"}}]}),
    ("{{ ['x', 'code_interpreter', 'y']|reject('equalto', 'code_interpreter')|join(', ') }}", {}),
    ("{{ 5|round }} {{ 5.5|round }} {{ 2.5|round }} {{ 2.675|round(2) }} {{ 5|round(method='ceil') }} {{ 2.1|round(0,'floor') }} {{ -3|abs }} {{ (-3.5)|abs }}", {}),
    ("{{ '42.7'|int }} {{ 'x'|int }} {{ ' 12 '|int }} {{ '0x1A'|int(base=16) }} {{ 3.9|int }} {{ none|int }} {{ '1_000'|int }} {{ '3.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ true|int }}", {}),
    ("{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(blank=true) }}|{{ 'a\\nb'|indent('> ') }}", {}),
    ("{{ 'hello world foo-bar'|wordcount }} {{ 'abc'|center(9) }}| {{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|safe }} {{ [1,2,3,4,5]|batch(2)|list }} {{ [1,2,3]|batch(2,'x')|list }}", {}),
    ("{{ none|string }} {{ 1.0|string }} {{ [1, 'a']|string }} {{ x|string }}| {{ {'a': 'b'}|string }} {{ 'x'|attr('upper') is defined }}", {}),
    ("{{ d|tojson }} {{ 'a'|tojson }} {{ [1, 2.0, none, true]|tojson }} {{ s|tojson }}", {"d": {"b": "<é>&'", "a": 1}, "s": "line\nnew \"q\" \u2028 😀 \x01"}),
    ("{{ d|tojson(indent=2) }}|{{ d|tojson(indent=0) }}|{{ []|tojson(indent=2) }}|{{ {}|tojson(indent=2) }}", {"d": {"a": 1, "b": [1.5, "é", {"c": []}], "c": None}}),
    ("{{ d|tojson(indent='\\t') }}", {"d": {"a": [1]}}),
    ("{{ x|tojson }}", {}),
    ("{{ 1|nofilter }}", {}),
    ("{% if false %}{{ 1|nofilter }}{% endif %}ok", {}),
    ("{{ 1 is nosuchtest }}", {}),
    # Markup (|safe, |escape, jinja2's own |tojson): `+` with a plain string escapes the plain side
    ("{{ '<a>' + ('b'|safe) }} {{ ('<' | e) + '>' }} {{ ({'a': '<'}|tojson) + '<' }} {{ (('x'|safe) * 2) + '<' }} {{ ('<b>'|safe)[1:] + '<' }}", {}),
    ("{{ ('a'|safe|upper) + '<' }} {{ ('a'|safe|replace('a','b')) + '<' }} {{ ('a'|safe) ~ '<' }} {{ ('a'|safe|trim) + '&' }} {{ ('a'|safe|string) + '&' }}", {}),
    ("{{ ('ab'|safe)[0] + '&' }} {{ ('a'|safe|lower|capitalize) + '&' }} {{ ('a'|safe|title) + '&' }} {{ (1|safe) + '&' }} {{ ('<'|safe|e) }}{{ '<'|e|e }}", {}),
    ("{% set x = 'a'|safe %}{{ x + '<' }}{{ [x]|join + '<' }}{{ (x|tojson)[1:] + '<' }}", {}),
    # printf-style formatting
    ("{{ 'abc' % [1] }}|{{ '%s-%d' % ('a', 3) }}|{{ '%r' % 'x' }}|{{ '%.2f|%f|%5s|%-3d|' % (1.005, 2, 'ab', 7) }}|{{ '%(a)s' % {'a': 1} }}|{{ '%d' % 2.7 }}|{{ '%s' % [1,2] }}|{{ '%%' % () }}|{{ '%x' % 255 }}|{{ '%5.1f' % 3.14159 }}|{{ '%e' % 1234.5 }}|{{ '%3s|' % 'é' }}", {}),
    ("{{ 'abc' % 1 }}", {}),
    ("{{ 'abc' % undefined_name }}|{{ '%s|' % undefined_name }}", {}),
    ("{{ '%s %s' % ('a',) }}", {}),
    ("{{ '%d' % 'a' }}", {}),
    ("{{ x is callable }} {{ [('a'|safe), 'b'] }}", {}),
    # edge cases found by differential fuzzing against jinja2
    ("{{ l[1:x] }}", {"l": [1, 2], "x": [1]}),
    ("{{ b[1:] }}", {"b": True}),
    ("{{ namespace(a=1, a=2) }}", {}),
    ("{{ dict(undefined_name) }}", {}),
    ("{{ x|nosuchfilter if false else 'soft' }}", {}),
    ("{{ {'k': 1} in {'k': 2} }}", {}),
    ("{{ [1]|indent }}", {}),
    # lazy filters return generators: always true, single-use, errors wait until consumed
    ("{% if [1,2]|select('gt', 5) %}always{% endif %} {% if 5|selectattr('x') %}lazy{% endif %} {% if []|map('upper') %}t{% endif %}", {}),
    ("{% set g = [1,2,3]|map('string') %}{{ g|first }}{{ g|list }}{{ g|list }} {% set r = [1,2]|reverse %}{{ r|list }}{{ r|list }}", {}),
    ("{% set g = [1,2,3]|select %}{{ 2 in g }}{{ g|list }} {{ 'ab'|reverse }} {{ ([1,2]|select|list|reverse)|list }} {{ {'a': 1}|items|list }}", {}),
    ("{{ (5|selectattr('x'))|list }}", {}),
    ("{{ [1,2]|select|length }}", {}),
    ("{{ [1]|select is iterable }} {{ [1]|select is sequence }} {{ ([1]|select or 0) is not iterable }}", {}),
    ("{{ [1,2]|select|last }}", {}),
    ("{{ [1,2]|length(1) }}", {}),
    ("{{ 1 is defined 2 }}", {}),
    ("{{ 1 is divisibleby }}", {}),
    ("{{ {'a':1}[] }}|{{ {(1,2): 'x'}[1, 2] }}|{{ [1,2][] }}", {}),
    # tests
    ("{{ 3 is number }} {{ true is number }} {{ true is integer }} {{ 1.0 is integer }} {{ 1.0 is float }} {{ 'a' is sequence }} {{ {} is sequence }} {{ x is iterable }} {{ x is sequence }} {{ 1 is iterable }}", {}),
    ("{{ x is mapping }} {{ {} is mapping }} {{ [] is mapping }} {{ 'a' is string }} {{ none is none }} {{ x is none }} {{ x is defined }} {{ x is undefined }} {{ true is boolean }} {{ 1 is boolean }}", {}),
    ("{{ 4 is divisibleby 2 }} {{ 3 is even }} {{ 3 is odd }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 1 is in [1] }} {{ 2 is gt 1 }} {{ 'trim' is filter }} {{ 'odd' is test }} {{ none is sameas none }} {{ range is callable }} {{ 1 is equalto 1 }} {{ 'a' is ne 'b' }}", {}),
    ("{{ x is not defined }} {{ not x is defined }} {{ 1 is not none }} {{ 'a' is not string }}", {}),
    ("{{ 'a' if x is defined else 'b' }} {{ content is string and content|length > 2 }}", {"content": "abc"}),
    # set, namespace, scoping
    ("{% set x = 5 %}{% for i in [1,2] %}{{x}}{% set x = i %}{{x}}{% endfor %}{{x}}", {}),
    ("{% for i in [1,2,3] %}{% if i > 1 %}[{{x}}]{% endif %}{% set x = i %}{% endfor %}|{{x}}", {"x": "g"}),
    ("{% set ns = namespace(x=0, items=[]) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }} {{ ns.items }} {{ ns.missing is defined }}", {}),
    ("{% set ns = namespace() %}{% set ns.index = 0 %}{% for m in ['a','b'] %}{% set ns.index = ns.index + 1 %}{% endfor %}{{ ns.index }}", {}),
    ("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("{% set a = 1 %}{% set b = a %}{% set a = 2 %}{{ b }}{% set t = 1, 2 %}{{ t }}{% set p, q = [5, 6] %}{{ p }}{{ q }}", {}),
    ("{% set x = 3 %}{% set x.y = 1 %}", {}),
    ("{% if true %}{% set inner = 'set in if' %}{% endif %}{{ inner }}", {}),
    ("{% set x %}  a {{ 1 }} {% endset %}[{{ x }}]{% set y | upper %}b{% endset %}{{ y }}{% filter upper %}hi {{ 'there' }}{% endfilter %}", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}|", {}),
    ("{% set messages = messages[1:] %}{{ messages|length }}{% for m in messages %}{{ m }}{% endfor %}", {"messages": ["a", "b", "c"]}),
    # loops
    ("{% for a in [] %}x{% else %}empty{% endfor %} {% for i in range(3) if i != 1 %}{{loop.index}}/{{loop.length}}{{loop.last}} {% endfor %}", {}),
    ("{% for i in [1,2] %}{% for j in [3] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("{% for i in 'ab' %}{{ loop.cycle('x','y') }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.first }}{{ loop.index0 }}{% endfor %}", {}),
    ("{% for a, b in [[1,2],[3,4]] %}{{a}}{{b}}{% endfor %}|{% for a, b in ['xy'] %}{{a}}-{{b}}{% endfor %}|{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}", {}),
    ("{% for a, b in [[1,2,3]] %}{{a}}{% endfor %}", {}),
    ("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }}", {}),
    ("{% for m in messages %}{% if loop.previtem and loop.previtem.role != m.role %}switch {% endif %}{{ m.role }} {% endfor %}", {"messages": [{"role": "u"}, {"role": "u"}, {"role": "a"}]}),
    ("{% for x in 5 %}{% endfor %}", {}),
    # macros
    ("{% macro m(a, b=2) %}[{{a}}|{{b}}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=4, a=0) }}{{ m() }}", {}),
    ("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}", {}),
    ("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("{% macro t(spec) %}{% if spec.type is defined %}T{% elif spec.type is iterable %}U[{% for t in spec.type %}{{t}}{% endfor %}]{% endif %}{% endmacro %}{{ t({'type':'array','items':{'type':'string'}}|items) }}", {}),
    ("{%- macro greet(name) -%}\n  Hello {{ name }}!\n{%- endmacro -%}\n{{ greet('Ann') + ' / ' + greet('Bob') }}", {}),
    # raise_exception / strftime_now
    ("{{ raise_exception('custom failure') }}", {}),
    ("{% if x is not defined %}{{ raise_exception('x is required') }}{% endif %}", {}),
    ("{{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %Y %A %j') }} {{ strftime_now is defined }}", {}),
    # syntax errors
    ("{% if %}", {}),
    ("{% for x in %}{% endfor %}", {}),
    ("{% if true %}unclosed", {}),
    ("{{ 'unterminated }}", {}),
    ("{{ (1 }}", {}),
    ("{% endif %}", {}),
    ("{% foo %}", {}),
    ("{{ 1 + }}", {}),
    ("{# never closed", {}),
    ("{% set true = 1 %}", {}),
    ("{{ a.b. }}", {}),
    ("{% break %}", {}),
]


def snippet_cases():
    cases = []
    for snippet in SNIPPETS:
        source, variables = snippet[0], snippet[1]
        for mode in (snippet[2] if len(snippet) > 2 else ("hf", "jinja")):
            case = {"source": source, "variables": variables, "mode": mode}
            case.update(render(mode, source, variables))
            cases.append(case)
    return cases


def write(out_dir, name, payload):
    path = os.path.join(out_dir, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(payload['cases'])} cases", file=sys.stderr)


def main():
    os.makedirs(OUT_CHAT, exist_ok=True)
    os.makedirs(OUT_JINJA, exist_ok=True)
    header = {"generator": "tools/make_template_goldens.py", "jinja2_version": jinja2.__version__,
              "now": NOW.strftime("%Y-%m-%dT%H:%M:%S")}
    write(OUT_CHAT, "chat_template_goldens.json", dict(header, conversations=CONVERSATIONS, cases=template_cases()))
    write(OUT_JINJA, "jinja_snippet_goldens.json", dict(header, cases=snippet_cases()))


if __name__ == "__main__":
    main()
