#!/usr/bin/env python3
"""Lower layers never include higher ones, and the installed headers are exactly those the
plugin surface needs.

    layering_test.py SOURCE_DIR --entry-headers H... --public-headers H...

1. Every #include of a project header in engine/, methods/, experiments/, analysis/ and apps/
   goes down the house or stays in its own part (RULES below, which mirrors the DEPS of each
   qb_add_library in CMakeLists.txt). Every header sits under one include root, so the
   compiler accepts an upward include; the <library>_links_alone targets catch an upward call
   at link time, this catches the include itself.
2. The headers CMake installs (QB_PUBLIC_HEADERS) are the include closure of the entry headers
   (QB_PUBLIC_ENTRY_HEADERS): none missing (a consumer would not compile), none extra (the API
   would grow unnoticed).

Before either, the checker runs on a small tree with one upward include and must report it.
"""
import argparse
import os
import re
import sys
import tempfile

# part -> the parts it may include besides itself. "core" is engine/check, engine/parallel and
# engine/gemm (qb_core), which both the float engine and engine/int8 stand on.
RULES = {
    "core": set(),
    "engine": {"core", "engine/int8"},  # the integer training path (fixed_point_gemm.cpp)
    "engine/int8": {"core"},
    "methods": {"core", "engine"},
    "integer": {"core", "engine", "engine/int8", "methods"},
    "experiments": {"core", "engine", "methods", "integer"},
    "analysis": {"core", "engine", "methods", "experiments"},
    "apps": {"core", "engine", "methods", "integer", "experiments", "analysis"},
}
CORE_STEMS = {"engine/check", "engine/names", "engine/parallel", "engine/gemm"}
TOP_FOLDERS = {"engine", "methods", "experiments", "analysis", "apps", "tests", "benchmarks",
               "examples", "integer"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def part_of(path):
    """The part a root-relative path belongs to: a RULES key, or its top folder."""
    if os.path.splitext(path)[0] in CORE_STEMS:
        return "core"
    for part in sorted(RULES, key=len, reverse=True):
        if path.startswith(part + "/"):
            return part
    return path.split("/")[0]


def project_includes(root, path):
    """The project headers `path` includes (root-relative), in order."""
    with open(os.path.join(root, path), encoding="utf-8") as f:
        text = f.read()
    return [inc for inc in INCLUDE.findall(text) if inc.split("/")[0] in TOP_FOLDERS]


def upward_includes(root):
    """'file: includes header (part A may not include part B)' for every violation."""
    bad = []
    for folder in sorted(set(p.split("/")[0] for p in RULES if p != "core")):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith((".h", ".cpp", ".inc")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                part = part_of(path)
                for inc in project_includes(root, path):
                    target = part_of(inc)
                    if target != part and target not in RULES[part]:
                        bad.append(f"{path}: includes {inc} ({part} may not include {target})")
    return bad


def include_closure(root, entries):
    seen, todo = set(), list(entries)
    while todo:
        header = todo.pop()
        if header not in seen:
            seen.add(header)
            todo.extend(project_includes(root, header))
    return seen


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for path, text in {"engine/tensor.cpp": '#include "engine/check.h"\n',
                           "engine/check.h": "",
                           "engine/int8/gemm.cpp": '#include "engine/check.h"\n'
                                                   '#include "engine/tensor.h"\n',
                           "engine/layer.cpp": '#include "experiments/config.h"\n'}.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write(text)
        want = ["engine/int8/gemm.cpp: includes engine/tensor.h "
                "(engine/int8 may not include engine)",
                "engine/layer.cpp: includes experiments/config.h "
                "(engine may not include experiments)"]
        got = sorted(upward_includes(root))
        if got != want:
            sys.exit(f"self-test: the checker reported {got}, expected {want}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--entry-headers", nargs="+", required=True)
    ap.add_argument("--public-headers", nargs="+", required=True)
    args = ap.parse_args()

    self_test()
    failures = upward_includes(args.root)
    closure = include_closure(args.root, args.entry_headers)
    public = set(args.public_headers)
    failures += [f"QB_PUBLIC_HEADERS lacks {h}, which an installed header includes"
                 for h in sorted(closure - public)]
    failures += [f"QB_PUBLIC_HEADERS has {h}, which no installed header needs"
                 for h in sorted(public - closure)]
    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f"layering: no upward include; {len(public)} installed headers, the closure of "
          f"{len(args.entry_headers)} entry headers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
