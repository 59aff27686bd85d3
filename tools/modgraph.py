#!/usr/bin/env python3
"""Draw the module dependency graph of a Rust crate's src/ and check it.

Nodes are the crate's top-level modules (src/foo.rs and src/foo/**); an edge
a -> b means non-test code under a names `crate::b` (in a `use` or a path).
Test code is left out: files named tests.rs, *_tests.rs, tests_*.rs,
test_*.rs or under a tests/ folder, and in any other file each item under a
`#[cfg(test)]` line (a `mod x;` line, a field, or a braced item).

  modgraph.py SRC_DIR              check: exit 1 and print every cycle
  modgraph.py SRC_DIR --dot        print the graph in Graphviz DOT
  --forbid MOD:CRATE_OR_MOD,...    also fail when MOD (or any module when MOD
                                   is '*') uses one of the listed names;
                                   external crates are named as in `use`
  --allow MOD                      modules exempt from '*' rules
  --cross-check DOT                also fail when a `uses` edge between two of
                                   the crate's top-level modules in DOT (from
                                   `cargo modules dependencies`, which resolves
                                   paths with rust-analyzer) is not in this graph
"""
import argparse
import pathlib
import re
import sys

CRATE_REF = re.compile(r"\bcrate::(\w+)")
GROUP_USE = re.compile(r"\bcrate::\{([^;]*?)\}\s*;", re.S)
SUPER_REF = re.compile(r"\b((?:super::)+)(?:(\w+)|\{([^;]*?)\}\s*;)", re.S)
EXTERN_REF = re.compile(r"(?<![:\w])(\w+)::")


def is_test_file(rel: pathlib.PurePath) -> bool:
    name = rel.stem
    return (
        "tests" in rel.parts[:-1]
        or name == "tests"
        or name.endswith("_tests")
        or name.startswith("tests_")
        or name.startswith("test_")
    )


STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def non_test_text(path: pathlib.Path) -> str:
    """The file without comments and without each item marked `#[cfg(test)]`
    (a `mod x;` line, or everything to the brace closing the item)."""
    lines = [line.split("//", 1)[0] for line in path.read_text().splitlines()]
    kept, i = [], 0
    while i < len(lines):
        if not lines[i].strip().startswith("#[cfg(test)]"):
            kept.append(lines[i])
            i += 1
            continue
        i += 1
        while i < len(lines) and lines[i].strip().startswith("#["):
            i += 1
        depth, opened = 0, False
        while i < len(lines):
            code = STRING.sub('""', lines[i])
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            i += 1
            if (opened and depth <= 0) or (not opened and code.rstrip().endswith((";", ","))):
                break
    return "\n".join(kept)


def top_groups(inner: str) -> list[str]:
    """First names of each member of a `crate::{...}` group."""
    names, depth, current = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += ch
    names.append(current)
    out = []
    for member in names:
        m = re.match(r"\s*(\w+)", member)
        if m and m.group(1) != "self":
            out.append(m.group(1))
    return out


def module_path(rel: pathlib.PurePath) -> list[str]:
    """`a/b.rs` is a::b; `a/mod.rs` is a."""
    parts = list(rel.parts[:-1])
    if rel.stem != "mod":
        parts.append(rel.stem)
    return parts


def super_targets(text: str, path: list[str]) -> set[str]:
    """Top-level modules named through `super::` chains that climb to the
    crate root (`super::x` in a.rs, `super::super::x` in a/b.rs)."""
    out = set()
    for chain, name, group in SUPER_REF.findall(text):
        if chain.count("super::") == len(path):
            out.update([name] if name else top_groups(group))
    return out


def graph(src: pathlib.Path):
    modules = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if is_test_file(rel):
            continue
        top = rel.parts[0].removesuffix(".rs")
        if top in ("lib", "main"):
            continue
        modules.setdefault(top, []).append(path)
    edges, externs = {m: set() for m in modules}, {m: set() for m in modules}
    for module, paths in modules.items():
        for path in paths:
            text = non_test_text(path)
            targets = set(CRATE_REF.findall(text))
            for inner in GROUP_USE.findall(text):
                targets.update(top_groups(inner))
            targets.update(super_targets(text, module_path(path.relative_to(src))))
            for target in targets:
                if target in modules and target != module:
                    edges[module].add(target)
            externs[module].update(EXTERN_REF.findall(text))
    return edges, externs


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


USES_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"', re.M)
MOD_NODE = re.compile(r'^\s*"(\w+)::(\w+)" \[label="[^"|]*\bmod\|', re.M)


def dot_modules(dot: str) -> set[str]:
    """The top-level modules of a cargo-modules DOT."""
    return {name for _, name in MOD_NODE.findall(dot)}


def missed_edges(edges, dot: str) -> list[tuple[str, str]]:
    """`uses` edges of a cargo-modules DOT, collapsed to top-level modules,
    that this graph lacks. Items at the crate root (not a module) and edges
    within one module are not edges here."""
    missed = set()
    for source, target in USES_EDGE.findall(dot):
        a, b = source.split("::"), target.split("::")
        if len(a) < 2 or len(b) < 2 or a[0] != b[0] or a[1] == b[1]:
            continue
        if a[1] in edges and b[1] in edges and b[1] not in edges[a[1]]:
            missed.add((a[1], b[1]))
    return sorted(missed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=pathlib.Path)
    parser.add_argument("--dot", action="store_true")
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--allow", action="append", default=[])
    parser.add_argument("--cross-check", type=pathlib.Path)
    args = parser.parse_args()
    edges, externs = graph(args.src)
    if args.dot:
        print(f'digraph "{args.src}" {{')
        for a in sorted(edges):
            print(f'  "{a}";')
            for b in sorted(edges[a]):
                print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    failures = []
    for component in cycles(edges):
        inside = [f"{a} -> {b}" for a in component for b in sorted(edges[a]) if b in component]
        failures.append(f"{args.src}: import cycle among {', '.join(component)}: " + "; ".join(inside))
    for rule in args.forbid:
        who, _, names = rule.partition(":")
        for module in sorted(edges):
            if (who == "*" and module in args.allow) or (who != "*" and module != who):
                continue
            for name in names.split(","):
                if name in edges[module] or name in externs[module]:
                    failures.append(f"{args.src}: {module} must not use {name}")
    if args.cross_check:
        dot = args.cross_check.read_text()
        theirs = dot_modules(dot)
        if theirs != set(edges):
            failures.append(
                f"{args.cross_check}: its top-level modules ({', '.join(sorted(theirs))}) "
                f"are not {args.src}'s ({', '.join(sorted(edges))})"
            )
        for a, b in missed_edges(edges, dot):
            failures.append(f"{args.src}: misses {a} -> {b}, which cargo-modules resolves")
    for failure in failures:
        print(failure, file=sys.stderr)
    if not failures:
        count = sum(len(v) for v in edges.values())
        seen = ", every edge cargo-modules resolves among them seen" if args.cross_check else ""
        print(f"{args.src}: {len(edges)} modules, {count} imports, no cycle{seen}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
