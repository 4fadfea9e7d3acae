#!/usr/bin/env python3
"""No import circles inside a crate.

Usage: python3 scripts/check-imports.py [-v] [CRATE_SRC_DIR...]
(default: every crates/*/src and worker/src). Exits 1 and prints every
circle it finds, with the lines that make each of its edges; 0 when there
are none. Python 3 standard library only.

Why: a crate whose modules import each other in a circle has no order in
which it can be read, tested or split; each module should build only on
modules below it.

The graph, as this script builds it:

- Modules come from `mod` declarations, followed from each crate root
  (src/lib.rs, src/main.rs, src/bin/*.rs) to their files (`name.rs`,
  `name/mod.rs`, or a `#[path]`). Each file is one module; a module written
  inline (`mod name { ... }`) belongs to its file.
- File A names module B when A has a `use` path, or any other path (in code
  or in a macro_rules body), that starts at `crate`, `$crate`, `super`,
  `self` or one of A's child modules and leads into B. A path goes to the
  deepest module it passes through; a name that module only imports or
  re-exports (`pub use error::Error` in lib.rs, then `crate::Error`
  elsewhere) is followed to where it is imported from, so re-exporting
  through a parent does not hide an edge.
- Ignored: items under `#[cfg(test)]` (the `mod tests` blocks, test-only
  modules and helpers: test code may reach anywhere), comments and string
  literals, and paths into other crates.
- An edge between a module and one of its own ancestors or descendants is
  ignored. A parent declares its children and re-exports or dispatches to
  them, and a child builds on the items of the parent it belongs to
  (`use super::Kernel` in kernels/x86.rs): together they are one module
  split across files.
- Every other edge joins the two sibling subtrees that hold its ends, under
  their nearest common ancestor: when gemm.rs names
  `crate::kernels::x86::X`, `gemm` depends on `kernels` (kernels/mod.rs and
  all its children as one node). A circle is a cycle among the sibling
  subtrees of one parent; each elementary cycle is printed once, with the
  first line that makes each of its edges.
"""

import os
import re
import sys

# --- lexing -------------------------------------------------------------

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RAW_STR = re.compile(r'(?:b|c|br|cr)?r(#*)"')
NUMBER = re.compile(r"[0-9][A-Za-z0-9_.]*")


def lex(text):
    """Tokens (text, line) of Rust source: identifiers, `::`, punctuation;
    comments, string and char literals and numbers dropped."""
    out = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif RAW_STR.match(text, i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = RAW_STR.match(text, i)
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            line += text.count("\n", i, end)
            i = end
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1)
                          and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            i = text.index('"', i) + 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                line += text[i] == "\n"
                i += 1
            i += 1
        elif c == "'" or (c == "b" and text.startswith("'", i + 1)):
            # A char literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a).
            j = i + (2 if c == "b" else 1)
            if j < n and text[j] == "\\":
                k = text.find("'", j + 2)
                i = k + 1
            elif j + 1 < n and text[j + 1] == "'":
                i = j + 2
            else:
                i = j  # a lifetime: its name lexes as an identifier
        elif c.isdigit():
            i = NUMBER.match(text, i).end()
        elif IDENT.match(text, i):
            m = IDENT.match(text, i)
            word = m.group(0)
            if word == "r" and text.startswith("#", m.end()) and IDENT.match(text, m.end() + 1):
                m = IDENT.match(text, m.end() + 1)  # r#ident
                word = m.group(0)
            out.append((word, line))
            i = m.end()
        elif text.startswith("::", i):
            out.append(("::", line))
            i += 2
        elif c == "$" and text.startswith("crate", i + 1):
            out.append(("$crate", line))
            i += 6
        else:
            out.append((c, line))
            i += 1
    return out


# --- parsing one file -----------------------------------------------------

STARTS = {"crate", "$crate", "super", "self"}
CLOSE = {"(": ")", "[": "]", "{": "}"}


def is_test_cfg(attr):
    """`cfg(test)` or `cfg(all(test, ...))`: the item exists only in tests."""
    words = [t for t, _ in attr]
    return words[:4] == ["cfg", "(", "test", ")"] or words[:5] == ["cfg", "(", "all", "(", "test"]


def skip_group(toks, i):
    """Index after the bracketed group that opens at toks[i]."""
    depth = 0
    while i < len(toks):
        t = toks[i][0]
        if t in CLOSE:
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def skip_item(toks, i):
    """Index after the item that starts at toks[i]: at its `;`, or after its
    first top-level brace group (a fn, impl, mod or struct body)."""
    while i < len(toks):
        t = toks[i][0]
        if t == ";":
            return i + 1
        if t == "{":
            return skip_group(toks, i)
        if t in ("(", "["):
            i = skip_group(toks, i)
            continue
        i += 1
    return i


def parse_use_tree(toks, i, prefix, out):
    """Parses a use tree from toks[i]; appends (segments, alias, line) to out
    (alias None for a glob). Returns the index after the tree."""
    segs = list(prefix)
    line = toks[i][1] if i < len(toks) else 0
    if i < len(toks) and toks[i][0] == "::":
        i += 1  # a leading `::`: an external crate
        segs.append("::")
    while i < len(toks):
        t, line = toks[i]
        if t == "{":
            i += 1
            while i < len(toks) and toks[i][0] != "}":
                i = parse_use_tree(toks, i, segs, out)
                if i < len(toks) and toks[i][0] == ",":
                    i += 1
            return i + 1
        if t == "*":
            out.append((segs, None, line))
            return i + 1
        if IDENT.fullmatch(t.lstrip("$")):
            segs = segs + [t]
            i += 1
            if i < len(toks) and toks[i][0] == "::":
                i += 1
                continue
            alias = t
            if i + 1 < len(toks) and toks[i][0] == "as":
                alias = toks[i + 1][0]
                i += 2
            if t == "self":  # `use a::{self}` imports `a`
                segs = segs[:-1]
                alias = segs[-1] if alias == "self" and segs else alias
            out.append((segs, alias, line))
            return i
        return i + 1
    return i


class FileInfo:
    def __init__(self, path, module):
        self.path = path
        self.module = module  # tuple of names from the crate root
        self.children = []  # (inline module path, name, #[path] or None)
        self.inline = set()  # module paths of inline modules in this file
        self.uses = []  # (scope, segments, alias, line)
        self.paths = []  # (scope, segments, line)


def parse_file(info):
    with open(info.path, encoding="utf-8") as f:
        toks = lex(f.read())
    scope = [info.module]  # the module a token is in (inline modules pushed)
    ends = []  # brace depth at which each inline module closes
    depth, i = 0, 0
    pending_path, pending_test = None, False
    while i < len(toks):
        t, line = toks[i]
        if t == "#" and i + 1 < len(toks) and toks[i + 1][0] in ("[", "!"):
            j = i + 1 + (toks[i + 1][0] == "!")
            end = skip_group(toks, j)
            attr = toks[j + 1:end - 1]
            if is_test_cfg(attr):
                pending_test = True
            if attr and attr[0][0] == "path":
                # The lexer drops string literals: read the value from the line.
                pending_path = read_path_attr(info.path, line)
            i = end
            continue
        if pending_test:
            i = skip_item(toks, i)
            pending_test, pending_path = False, None
            continue
        if t == "mod" and i + 1 < len(toks) and IDENT.fullmatch(toks[i + 1][0]):
            name = toks[i + 1][0]
            if i + 2 < len(toks) and toks[i + 2][0] == ";":
                info.children.append((scope[-1], name, pending_path))
                pending_path = None
                i += 3
                continue
            if i + 2 < len(toks) and toks[i + 2][0] == "{":
                scope.append(scope[-1] + (name,))
                info.inline.add(scope[-1])
                depth += 1
                ends.append(depth)
                pending_path = None
                i += 3
                continue
        if t in (";", "}", "{"):
            pending_path = None
        if t == "{":
            depth += 1
        elif t == "}":
            if ends and ends[-1] == depth:
                ends.pop()
                scope.pop()
            depth -= 1
        elif t == "use" and (i == 0 or toks[i - 1][0] != "::"):
            found = []
            i = parse_use_tree(toks, i + 1, [], found)
            for segs, alias, l in found:
                info.uses.append((scope[-1], segs, alias, l))
            continue
        elif (IDENT.fullmatch(t.lstrip("$")) and i + 1 < len(toks) and toks[i + 1][0] == "::"
              and (i == 0 or toks[i - 1][0] != "::")):
            segs = [t]
            j = i + 1
            while j + 1 < len(toks) and toks[j][0] == "::" and IDENT.fullmatch(toks[j + 1][0]):
                segs.append(toks[j + 1][0])
                j += 2
            info.paths.append((scope[-1], segs, line))
            i = j
            continue
        i += 1


def read_path_attr(path, line):
    with open(path, encoding="utf-8") as f:
        text = f.read().splitlines()[line - 1]
    m = re.search(r'#\[\s*path\s*=\s*"([^"]+)"', text)
    return m.group(1) if m else None


# --- the crate's module tree ------------------------------------------------


def child_file(info, scope, name, path_attr):
    """The file of `mod name;` declared in `scope` inside info's file."""
    here = os.path.dirname(info.path)
    base = os.path.basename(info.path)
    inline = list(scope[len(info.module):])
    if base == "mod.rs" or info.module == ():
        dirpath = os.path.join(here, *inline)
    else:
        dirpath = os.path.join(here, os.path.splitext(base)[0], *inline)
    if path_attr:
        return os.path.normpath(os.path.join(dirpath if inline else here, path_attr))
    for cand in (os.path.join(dirpath, name + ".rs"), os.path.join(dirpath, name, "mod.rs")):
        if os.path.exists(cand):
            return cand
    return None


def load_crate(root_file):
    """{module path: FileInfo} for the crate rooted at root_file."""
    files = {}
    todo = [(root_file, ())]
    while todo:
        path, module = todo.pop()
        info = FileInfo(path, module)
        parse_file(info)
        files[module] = info
        for scope, name, path_attr in info.children:
            f = child_file(info, scope, name, path_attr)
            if f is None:
                print(f"warning: {path}: no file for `mod {name};`", file=sys.stderr)
            else:
                todo.append((f, scope + (name,)))
    return files


class Crate:
    def __init__(self, files):
        self.files = files
        self.file_of = {}  # every module path (inline ones too) -> its file's module
        self.children = {}  # module path -> names of its child modules
        for m, info in files.items():
            self.file_of[m] = m
            for s in info.inline:
                self.file_of[s] = m
        for m in self.file_of:
            if m:
                self.children.setdefault(m[:-1], set()).add(m[-1])
        self.imports = {}  # module path -> {alias: (scope, segments)}
        for info in files.values():
            for scope, segs, alias, _ in info.uses:
                if alias:
                    self.imports.setdefault(scope, {})[alias] = (scope, segs)

    def resolve(self, scope, segs, seen=0):
        """The module (path) that a path names, or None outside the crate."""
        if not segs or seen > 16:
            return None
        first = segs[0]
        if first in ("crate", "$crate"):
            base, rest = (), segs[1:]
        elif first == "super" or first == "self":
            base, k = scope, 0
            while k < len(segs) and segs[k] in ("super", "self"):
                if segs[k] == "super":
                    base = base[:-1]
                k += 1
            rest = segs[k:]
        elif first in self.children.get(scope, ()):
            base, rest = scope, segs
        else:
            return None
        module = base
        k = 0
        while k < len(rest) and module + (rest[k],) in self.file_of:
            module = module + (rest[k],)
            k += 1
        if k < len(rest):
            imported = self.imports.get(module, {}).get(rest[k])
            if imported:
                target = self.resolve(imported[0], imported[1], seen + 1)
                if target is not None:
                    return target
        return module

    def edges(self):
        """[(from file module, to file module, path text, file, line)]."""
        out = []
        for m, info in self.files.items():
            refs = [(s, segs, l) for s, segs, _, l in info.uses] + info.paths
            for scope, segs, line in refs:
                target = self.resolve(scope, segs)
                if target is None:
                    continue
                target = self.file_of[target]
                if target != m:
                    out.append((m, target, "::".join(segs), info.path, line))
        return out


def name(module):
    return "::".join(module) if module else "crate"


def cycles_of(graph, limit=200):
    """Elementary cycles of a small directed graph {node: set(nodes)}, each
    once, starting at its least node."""
    found = []
    nodes = sorted(graph)
    for start in nodes:
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path = [start]
        on = {start}
        while stack and len(found) < limit:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on.discard(path.pop())
                continue
            if nxt == start:
                found.append(list(path))
            elif nxt > start and nxt not in on:
                path.append(nxt)
                on.add(nxt)
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    return found


def check(src_dir, verbose):
    roots = [os.path.join(src_dir, f) for f in ("lib.rs", "main.rs") if os.path.exists(os.path.join(src_dir, f))]
    bindir = os.path.join(src_dir, "bin")
    if os.path.isdir(bindir):
        roots += sorted(os.path.join(bindir, f) for f in os.listdir(bindir) if f.endswith(".rs"))
    circles = 0
    for root in roots:
        crate = Crate(load_crate(root))
        # Edges between sibling subtrees, under their nearest common ancestor.
        levels = {}  # parent -> {child: set(child)}
        why = {}  # (parent, a, b) -> first evidence
        for a, b, text, path, line in crate.edges():
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            if k == len(a) or k == len(b):
                if verbose:
                    print(f"  (parent/child, ignored) {os.path.relpath(path)}:{line}: {text}")
                continue
            parent, x, y = a[:k], a[:k + 1], b[:k + 1]
            levels.setdefault(parent, {}).setdefault(x, set()).add(y)
            why.setdefault((x, y), f"{os.path.relpath(path)}:{line} names {text}")
            if verbose:
                print(f"  {name(x)} -> {name(y)}: {os.path.relpath(path)}:{line}: {text}")
        for parent in sorted(levels):
            for cycle in cycles_of(levels[parent]):
                circles += 1
                ring = cycle + [cycle[0]]
                print(f"{os.path.relpath(root)}: import circle: " + " -> ".join(name(m) for m in ring))
                for x, y in zip(ring, ring[1:]):
                    print(f"    {name(x)} -> {name(y)}: {why[(x, y)]}")
    return circles


def main(argv):
    verbose = "-v" in argv
    dirs = [a for a in argv if a != "-v"]
    if not dirs:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        crates = os.path.join(repo, "crates")
        dirs = [os.path.join(crates, c, "src") for c in sorted(os.listdir(crates))]
        dirs.append(os.path.join(repo, "worker", "src"))
    total = 0
    for d in dirs:
        if os.path.isdir(d):
            total += check(d, verbose)
    if total:
        print(f"{total} import circle(s): move what both sides need into a module below them both")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
