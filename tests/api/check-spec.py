#!/usr/bin/env python3
"""check-spec.py - docs/api/openapi.yaml describes exactly server/routes.c's routes.

    python3 tests/api/check-spec.py [--src DIR]

Every (method, path) of the route table (read with tools/gendocs.py's
parser) must be an operation of the spec, and every operation of the spec a
route; a path's parameter names ({ref}, {job}, {id}) are part of the path,
so a renamed parameter is a difference too. Exit 1 with the differences.

Standard library only, so the spec is read by a small line parser of its
`paths:` block: a path is a key indented two spaces, an operation a key
indented four spaces under it (the format the spec's header comment asks
for). Anything else at those indents is an error rather than a guess. The
full parse and OpenAPI validation are tests/api/validate.mjs's, which
tests/integration/test_openapi.py runs.
"""
import os
import re
import sys

SPEC = "docs/api/openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PATH_ITEM_KEYS = ("parameters", "summary", "description", "servers", "$ref")

class SpecError(Exception):
    """A spec the line parser cannot read."""


def unquote(key):
    """A YAML plain or quoted key's text."""
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return key


def spec_operations(text):
    """{(METHOD, path)} of the spec's paths block."""
    ops, path, in_paths, seen = set(), None, False, set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            in_paths = line.rstrip() == "paths:"
            if line.startswith("paths:") and not in_paths:
                raise SpecError(f"{SPEC}:{n}: write paths as a block mapping")
            continue
        if not in_paths:
            continue
        m = re.fullmatch(r"( *)([^\s:#][^:#]*?|'[^']*'|\"[^\"]*\"):\s*(.*?)\s*", line)
        if indent == 2:
            if not m or m.group(3):
                raise SpecError(f"{SPEC}:{n}: expected a path key ending in ':'")
            path = unquote(m.group(2))
            if not path.startswith("/") or path in seen:
                raise SpecError(f"{SPEC}:{n}: {path!r} is not a new path")
            seen.add(path)
        elif indent == 4:
            if not m or path is None:
                raise SpecError(f"{SPEC}:{n}: expected a key of the path item")
            key = unquote(m.group(2))
            if key in HTTP_METHODS:
                if m.group(3):
                    raise SpecError(f"{SPEC}:{n}: write {key} of {path} as a block mapping")
                ops.add((key.upper(), path))
            elif key not in PATH_ITEM_KEYS and not key.startswith("x-"):
                raise SpecError(f"{SPEC}:{n}: unexpected key {key!r} in {path}")
        elif indent not in (2, 4) and indent < 4:
            raise SpecError(f"{SPEC}:{n}: indent {indent} in paths (two-space steps only)")
    if not ops:
        raise SpecError(f"{SPEC}: no operations under paths:")
    return ops


def route_operations(src):
    """{(METHOD, path)} of server/routes.c, by tools/gendocs.py's reader."""
    sys.path.insert(0, os.path.join(src, "tools"))
    import gendocs   # noqa: E402 - the tools directory is only known here
    body = gendocs.table(gendocs.strip_comments(gendocs.read(src, "server/routes.c")),
                         r"api_routes\[\]\s*=\s*\{", "server/routes.c")
    ops = set()
    for name, a in gendocs.calls(body, ["ROUTE", "STREAMED", "RAW_OK"]):
        if len(a) < 5 or not a[0].startswith("M_"):
            raise SpecError(f"server/routes.c: cannot read {name}({', '.join(a)})")
        ops.add((a[0][2:], gendocs.c_string(a[1])))
    if not ops:
        raise SpecError("server/routes.c: no routes")
    return ops


def main(argv):
    src = "."
    if len(argv) == 2 and argv[0] == "--src":
        src = argv[1]
    elif argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(os.path.join(src, SPEC), encoding="utf-8") as f:
            spec = spec_operations(f.read())
        routes = route_operations(src)
    except (OSError, SpecError) as e:
        print(f"check-spec: {e}", file=sys.stderr)
        return 1
    except Exception as e:   # gendocs.GenError, without importing it twice
        print(f"check-spec: {e}", file=sys.stderr)
        return 1
    bad = 0
    for m, p in sorted(routes - spec, key=lambda o: (o[1], o[0])):
        print(f"check-spec: {m} {p} is in server/routes.c but not in {SPEC}", file=sys.stderr)
        bad = 1
    for m, p in sorted(spec - routes, key=lambda o: (o[1], o[0])):
        print(f"check-spec: {m} {p} is in {SPEC} but not in server/routes.c", file=sys.stderr)
        bad = 1
    if not bad:
        print(f"check-spec: {SPEC} and server/routes.c agree on {len(routes)} operations")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
