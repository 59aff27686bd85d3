"""Tests of tools/modgraph.py on small crates written to a temporary folder."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

TOOL = pathlib.Path(__file__).with_name("modgraph.py")


def run(files: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as root:
        src = pathlib.Path(root, "src")
        for name, text in files.items():
            path = src / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return subprocess.run(
            [sys.executable, str(TOOL), str(src), *args],
            capture_output=True,
            text=True,
            check=False,
        )


class ModGraph(unittest.TestCase):
    def test_a_cycle_through_a_submodule_and_a_use_group_fails_and_is_named(self):
        result = run(
            {
                "lib.rs": "mod a; mod b; mod c;",
                "a.rs": "use crate::b::Thing;",
                "b/mod.rs": "mod inner;",
                "b/inner.rs": "use crate::{c::{self, More}, other};",
                "c.rs": "fn f() { crate::a::g(); }",
            }
        )
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("import cycle among a, b, c", result.stderr)
        self.assertIn("b -> c", result.stderr)

    def test_test_code_and_comments_do_not_count(self):
        result = run(
            {
                "a.rs": "use crate::b::X;\n#[cfg(test)]\nmod tests { use crate::a::Y; }",
                "b.rs": "// crate::a::Z\nfn f() {}\n#[cfg(test)]\nfn t() { crate::a::f(); }",
                "b/tests.rs": "use crate::a::W;",
                "c/tests_more.rs": "use crate::a::W;",
                "c.rs": "",
            }
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("3 modules, 1 imports, no cycle", result.stdout)

    def test_code_after_a_test_only_item_still_counts(self):
        result = run(
            {
                "a.rs": "struct S {\n    #[cfg(test)]\n    seen: crate::b::Log,\n    x: u8,\n}\n"
                "#[cfg(test)]\n#[allow(dead_code)]\nfn helper() {\n    let s = \"{\";\n}\n"
                "#[cfg(test)]\nmod tests;\nuse crate::c::Real;\n",
                "b.rs": "",
                "c.rs": "",
            },
            "--dot",
        )
        self.assertIn('"a" -> "c";', result.stdout)
        self.assertNotIn('"a" -> "b";', result.stdout)

    def test_super_paths_that_climb_to_the_crate_root_count(self):
        result = run(
            {
                "a.rs": "use super::b::X;",
                "c/d.rs": "use super::super::{e::Y, a};\nuse super::sibling::Z;",
                "b.rs": "",
                "e.rs": "",
            },
            "--dot",
        )
        for edge in ['"a" -> "b";', '"c" -> "e";', '"c" -> "a";']:
            self.assertIn(edge, result.stdout)
        self.assertNotIn('"c" -> "sibling"', result.stdout)

    def test_a_forbidden_crate_or_module_fails_unless_allowed(self):
        files = {
            "adapter.rs": "use proxy_wasm::traits::Context;",
            "core.rs": "fn f() -> proxy_wasm::types::Action { todo!() }",
            "state.rs": "",
            "domain.rs": "use crate::state::AppState;",
        }
        result = run(files, "--forbid", "*:proxy_wasm,state", "--allow", "adapter")
        self.assertEqual(result.returncode, 1)
        self.assertIn("core must not use proxy_wasm", result.stderr)
        self.assertIn("domain must not use state", result.stderr)
        self.assertNotIn("adapter", result.stderr)
        result = run(files, "--forbid", "*:proxy_wasm", "--allow", "adapter", "--allow", "core")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_dot_lists_every_edge(self):
        result = run({"a.rs": "use crate::b::X;", "b.rs": ""}, "--dot")
        self.assertEqual(result.returncode, 0)
        self.assertIn('"a" -> "b";', result.stdout)


def cargo_modules_dot(modules: list[str], uses: list[tuple[str, str]]) -> str:
    """A graph in `cargo modules dependencies`' format (crate `k`)."""
    lines = ['digraph {', '    "k" [label="crate|k", fillcolor="#5397c8"]; // "crate" node']
    for name in modules:
        lines.append(f'    "k::{name}" [label="pub(crate) mod|{name}", fillcolor="#f8c04c"]; // "mod" node')
        lines.append(f'    "k::{name}::Item" [label="pub struct|{name}::Item", fillcolor="#81c169"]; // "struct" node')
        lines.append(f'    "k" -> "k::{name}" [label="owns", color="#000000", style="solid"] [constraint=true]; // "owns" edge')
    for a, b in uses:
        lines.append(f'    "k::{a}" -> "k::{b}::Item" [label="uses", color="#7f7f7f", style="dashed"] [constraint=false]; // "uses" edge')
    return "\n".join(lines + ["}"])


class CrossCheck(unittest.TestCase):
    FILES = {"lib.rs": "mod a; mod b; mod c;", "a.rs": "use crate::b::Item;", "b.rs": "", "c.rs": ""}

    def check(self, dot: str) -> subprocess.CompletedProcess:
        with tempfile.NamedTemporaryFile("w", suffix=".dot") as file:
            file.write(dot)
            file.flush()
            return run(self.FILES, "--cross-check", file.name)

    def test_the_same_edges_pass(self):
        result = self.check(cargo_modules_dot(["a", "b", "c"], [("a", "b")]))
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_an_edge_only_cargo_modules_resolves_fails_and_is_named(self):
        result = self.check(cargo_modules_dot(["a", "b", "c"], [("a", "b"), ("c", "a")]))
        self.assertEqual(result.returncode, 1)
        self.assertIn("misses c -> a, which cargo-modules resolves", result.stderr)
        self.assertNotIn("a -> b", result.stderr)

    def test_a_graph_of_another_crate_fails(self):
        result = self.check(cargo_modules_dot(["a", "b", "d"], [("a", "b")]))
        self.assertEqual(result.returncode, 1)
        self.assertIn("its top-level modules (a, b, d)", result.stderr)


if __name__ == "__main__":
    unittest.main()
