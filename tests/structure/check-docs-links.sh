#!/usr/bin/env bash
# Every document the tree cites exists, and so does what it points at in it:
# a path ending in .md in a C, Python, shell or Markdown file names a file
# (from the top, from docs/, or beside the citing file); a citation
# FILE.md "Heading" names a heading of that file (a heading that starts with
# those words, or a "- Words:" list item); a Markdown link
# [text](FILE.md#anchor) names a heading.
. "$(dirname "$0")/lib.sh"
python3 - <<'PY' || broken=1
import os, re, subprocess, sys
files = subprocess.run(["git", "ls-files", "--cached", "--others",
                        "--exclude-standard", "*.c", "*.h", "*.py", "*.sh", "*.md",
                        "*.txt"], capture_output=True, text=True).stdout.split()
if not files:   # not a git checkout: walk the tree
    files = [os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk(".")
             if "/build" not in d and "/." not in d for f in fs
             if f.endswith((".c", ".h", ".py", ".sh", ".md", ".txt"))]
files = [f for f in files if f != "tests/structure/check-docs-links.sh"
         and not f.startswith("build")]
alias = {}
anchors_unchecked = set()
bad = 0
def resolve(name, citer):
    if name in alias:
        return alias[name]
    for base in ("", "docs", os.path.dirname(citer)):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(p):
            return p
    return None
heads = {}
def headings(path):
    if path not in heads:
        hs = []
        fence = False
        for line in open(path, encoding="utf-8"):
            if line.startswith("```"):
                fence = not fence
            elif not fence and re.match(r"#+ ", line):
                hs.append(line.lstrip("#").strip())
        heads[path] = hs
    return heads[path]
def slug(h):
    s = re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
    return s
for f in files:
    try:
        text = open(f, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        continue
    for n, line in enumerate(text.split("\n"), 1):
        for m in re.finditer(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b", line):
            name = m.group(1)
            if "://" in line[max(0, m.start() - 8):m.start()]:
                continue
            path = resolve(name, f)
            if path is None:
                print(f"structure: {f}:{n}: cites {name}, which does not exist")
                bad = 1
                continue
            q = re.match(r'\s*"([^"]+)"', line[m.end():])
            if q and not any(h.startswith(q.group(1)) for h in headings(path)) \
                    and ("\n- " + q.group(1) + ":") not in open(path, encoding="utf-8").read():
                print(f'structure: {f}:{n}: cites {name} "{q.group(1)}": no such heading')
                bad = 1
            a = re.match(r"#([\w-]+)\)", line[m.end():])
            if f.endswith(".md") and f not in anchors_unchecked and a and a.group(1) not in map(slug, headings(path)):
                print(f"structure: {f}:{n}: links {name}#{a.group(1)}: no such heading")
                bad = 1
        if f.endswith(".md") and f not in anchors_unchecked:
            for a in re.finditer(r"\]\(#([\w-]+)\)", line):
                if a.group(1) not in map(slug, headings(f)):
                    print(f"structure: {f}:{n}: links #{a.group(1)}: no such heading")
                    bad = 1
sys.exit(bad)
PY
finish
