"""Traversal of the import graph from the roots.

claude-code: depth-first, as the client walks (:mod:`recovery.links.client`):
the roots in the client's order, each import followed to the end before the next
one, with one set of files already reached for all roots, so the first path that
reaches a file fixes its depth even when a shorter one exists.

framework: breadth-first from every root at once, one depth at a time, so the
first time a file is reached is its smallest depth in hops (a root is 0 hops,
what it imports is 1). A file is read once, by real path, however many imports name it, and its
tokens are scanned in the same pass (:func:`load_and_scan`); only the verdict and
the tokens are kept, not the text.

- In the claude-code profile a file more hops away than the limit is not read:
  each import that would reach it is a ``depth-exceeded`` error with the chain
  from the root. The framework profile has no limit unless one is configured.
- Every import is resolved and judged where it is written, so a broken module
  is reported at each ``path:line:col`` that names it.
- Cycles are found afterwards by a depth-first search (Tarjan) over the imports
  that load: each import that closes a cycle is reported there, with the full
  chain of the shortest cycle through it; a tangle of files importing each other
  gets at most ten such findings, the last one counting the rest.
- claude-code follows every target (Claude Code loads any text file); framework
  reads only Markdown targets and merely opens the rest to prove they are readable.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from recovery.links import files as fileread
from recovery.links import resolve as rs
from recovery.links.findings import Finding, make_finding
from recovery.links.report import FileInfo, Import, LinkReport
from recovery.links.roots import discover, is_excluded
from recovery.links.settings import LinkSettings
from recovery.links.tokens import (
    IN_CODE_SPAN,
    IN_COMMENT,
    IN_FENCE,
    IN_HTML_BLOCK,
    IN_HTML_TAG,
    IN_INDENTED,
    Token,
    is_template,
    scan_claude_code,
    scan_framework,
)

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx", ".mdc")
MAX_CYCLES_PER_GROUP = 10
# A quoted path longer than this is shortened in messages (the `target` field keeps
# it whole): a 5,000-character token should not make a 5,000-character line.
_LONG_QUOTE = re.compile(r"`([^`\n]{121,})`")


def _shorten(match: re.Match[str]) -> str:
    text = match.group(1)
    return f"`{text[:70]}…{text[-40:]}`"


@dataclass
class _Node:
    key: str  # real path
    path: str  # absolute path it was first reached by (imports resolve from its directory)
    rel: str  # shown in findings
    depth: int
    root: bool
    parent: _Node | None = None
    edges: dict[str, tuple[int, int]] = field(default_factory=dict)  # target key -> (line, col)
    conditional: bool = False  # reached only from a rule with `paths:` frontmatter


class Traversal:
    """One run of the validator over one project."""

    def __init__(self, toplevel: Path, settings: LinkSettings) -> None:
        self.top = os.path.abspath(str(toplevel))
        self.settings = settings
        self.profile = settings.profile
        self.resolver = rs.Resolver(self.top, settings.bases)
        from recovery.links.client import rules_for

        self.client = rules_for(settings.client_version)
        self.findings: list[Finding] = []
        self.nodes: dict[str, _Node] = {}
        self.contents: dict[str, fileread.Content] = {}  # verdicts; the text is not kept
        self.tokens: dict[str, list[Token]] = {}
        self.imports: list[Import] = []
        self.files_read = 0
        self.imports_found = 0
        self.imports_loaded = 0
        self.imports_outside = 0

    # -- the run ----------------------------------------------------------------

    def run(self) -> LinkReport:
        s = self.settings
        scan = discover(Path(self.top), s.roots, s.exclude, self.profile, s.explicit_roots)
        self.findings.extend(scan.findings)
        if self.profile == "claude-code":
            from recovery.links.commands import check_prompts, is_prompt

            prompts = [rel for rel in scan.roots if is_prompt(rel)]
            memory = sorted((rel for rel in scan.roots if not is_prompt(rel)), key=root_order)
            self._depth_first(memory)
            self.findings.extend(check_prompts(Path(self.top), prompts, self.resolver))
            return self._report(scan.roots)
        level: list[_Node] = []
        for rel in scan.roots:
            abs_path = os.path.normpath(os.path.join(self.top, rel))
            probe = self.resolver.probe(abs_path)
            key = probe.real or abs_path
            if key not in self.nodes:
                node = _Node(key, abs_path, rel, 0, True)
                self.nodes[key] = node
                level.append(node)
        self._load([(n.key, n.path) for n in level])
        # Breadth-first, one depth at a time: the files a level imports are read and
        # scanned as one batch, then its imports are judged where they are written.
        while level:
            pending: list[tuple[_Node, Token, rs.Target, str]] = []
            for node in level:
                content = self.contents[node.key]
                if content.problem:
                    if node.root:
                        self._content_finding(node.rel, 1, 1, node.rel, content, root=True)
                    continue
                for token in self.tokens.get(node.key, ()):
                    self._follow(node, token, pending)
            self._load(self._to_read(pending))
            level = []
            for node, token, target, display in pending:
                self._file(node, token, target, display, level)
        return self._report(scan.roots)

    def _report(self, roots: list[str]) -> LinkReport:
        self._cycles()
        return LinkReport(
            toplevel=Path(self.top),
            settings=self.settings,
            findings=sorted(self.findings),
            roots=list(roots),
            files=sorted((FileInfo(n.rel, n.depth, n.root, n.parent.rel if n.parent else None,
                                   n.conditional)
                          for n in self.nodes.values()),
                         key=lambda f: f.path),
            imports=sorted(self.imports, key=lambda i: (i.source, i.line, i.col)),
            files_read=self.files_read,
            imports_found=self.imports_found,
            imports_loaded=self.imports_loaded,
            imports_outside=self.imports_outside,
        )

    def _depth_first(self, roots: list[str]) -> None:
        """The client's walk: each root, then each of its imports followed to the
        end before the next one (an explicit stack: no recursion limit). Rule files
        with ``paths:`` frontmatter come last and are marked conditional: the client
        loads them (and their imports) only when a matching file is read."""
        from recovery.links.client import is_conditional_rule

        flagged = [(is_conditional_rule(os.path.join(self.top, rel)) if "/rules/" in f"/{rel}"
                    else False, rel) for rel in roots]
        for conditional, rel in sorted(flagged, key=lambda item: item[0]):
            abs_path = os.path.normpath(os.path.join(self.top, rel))
            key = self.resolver.probe(abs_path).real or abs_path
            if key in self.nodes:
                continue  # already reached as an import: loaded once, at that depth
            self._load([(key, abs_path)])
            content = self.contents[key]
            if content.problem:
                self._content_finding(rel, 1, 1, rel, content, root=True)
                if content.problem != fileread.CORRUPTED:
                    continue  # dropped by the client: not loaded, nothing imported
            root = _Node(key, abs_path, rel, 0, True, conditional=conditional)
            self.nodes[key] = root
            stack = [(root, iter(self._tokens_of(root)))]
            while stack:
                node, tokens = stack[-1]
                token = next(tokens, None)
                if token is None:
                    stack.pop()
                    continue
                pending: list[tuple[_Node, Token, rs.Target, str]] = []
                self._follow(node, token, pending)
                self._load(self._to_read(pending))
                children: list[_Node] = []
                for entry in pending:
                    self._file(*entry, children)
                stack.extend((child, iter(self._tokens_of(child))) for child in children)

    def _tokens_of(self, node: _Node) -> list[Token]:
        return self.tokens.get(node.key, [])

    # -- reading and scanning ------------------------------------------------------

    def _to_read(self, pending: list[tuple[_Node, Token, rs.Target, str]]) -> list[tuple[str, str]]:
        """The targets of ``pending`` that will be read: not yet read, not excluded,
        within the depth limit."""
        limit = self.settings.depth
        out: dict[str, str] = {}
        for node, _token, target, _display in pending:
            key = target.real or target.path
            if key in self.contents or key in out:
                continue
            if key not in self.nodes:
                if limit is not None and node.depth + 1 > limit:
                    continue
                if is_excluded(self.resolver.display(key), self.settings.exclude):
                    continue
            out[key] = target.path
        return list(out.items())

    def _load(self, items: list[tuple[str, str]]) -> None:
        """Read and scan each ``(real path, path)`` not read yet: once per file."""
        jobs = []
        for key, path in items:
            if key in self.contents:
                continue
            decode = self.profile == "claude-code" or path.lower().endswith(MARKDOWN_SUFFIXES)
            jobs.append((key, decode, self.settings.max_file_bytes, self.profile,
                         self.settings.html_blocks, self.settings.client_version))
        for job in jobs:
            content, tokens = load_and_scan(job)
            key, decode = job[0], job[1]
            self.contents[key] = content
            if tokens is not None:
                self.tokens[key] = tokens
            if decode and content.problem not in (fileread.UNREADABLE, fileread.TOO_LARGE):
                self.files_read += 1

    def _add(self, code: str, path: str, line: int, col: int, message: str,
             hint: str | None = None, target: str | None = None,
             chain: tuple[str, ...] = ()) -> None:
        message = _LONG_QUOTE.sub(_shorten, message)
        hint = _LONG_QUOTE.sub(_shorten, hint) if hint else hint
        finding = make_finding(self.profile, code, path, line, col, message, hint, target, chain)
        if finding is not None:
            self.findings.append(finding)

    # -- one import -------------------------------------------------------------

    def _follow(self, node: _Node, token: Token,
                pending: list[tuple[_Node, Token, rs.Target, str]]) -> None:
        where = (node.rel, token.line, token.col)
        shown = f"`@{token.text}`"
        # The client resolves from the importing file's real path (a symlinked
        # CLAUDE.md imports next to its target).
        src_dir = (self.resolver.lexical(os.path.dirname(node.key))
                   if self.profile == "claude-code" else os.path.dirname(node.path))
        if not token.evaluated:
            self._not_evaluated(node, token, src_dir)
            return
        if token.template and self.profile == "framework":
            self._add("template", *where, f"{shown} is a template, not a file: not checked")
            return
        self.imports_found += 1
        if self.profile == "claude-code":
            path, hash_mark, fragment = token.path, "", ""
            if "#" in token.text and self.client.cut_fragment:
                cut = token.text.partition("#")[2]
                self._add("fragment", *where,
                          f"{shown}: Claude Code {self.client.version} cuts `#{cut}` off and "
                          f"loads `{path}` whole")
        else:
            path, hash_mark, fragment = token.path.partition("#")
        if hash_mark:
            self._add("fragment", *where,
                      f"{shown}: `#{fragment}` is not part of Claude Code's import rules; "
                      f"`{path or token.path}` is resolved and loads whole",
                      hint=f"write `@{path}` without the fragment" if path else None)
            if not path:
                self._record(node, token, None, "missing", None, False)
                return
        target = self.resolver.resolve(src_dir, path, self.profile)
        display = self.resolver.display(target.path)
        status = target.status
        if status == rs.MISSING:
            kind = self._missing(node, token, path, target, src_dir)
            self._record(node, token, display, kind, None, False)
            return
        if status == rs.OUTSIDE:
            self.imports_outside += 1
            if target.detail:  # a symlink inside the project that leads out
                message = (f"{shown}: `{display}` is {target.detail}: "
                           "what loads depends on the machine (not followed)")
            else:
                message = (f"{shown} points outside the project, to `{display}`: Claude Code "
                           "asks for approval before loading it and `claude -p` never does "
                           "(not checked)")
            self._add("outside-project", *where, message, target=display)
            self._record(node, token, display, "outside", target.base, False)
            return
        if status in (rs.UNREADABLE, rs.SPECIAL):
            self._add("unreadable-target", *where,
                      f"{shown}: `{display}` cannot be read ({target.detail}); "
                      "Claude Code drops it without a word", target=display)
            self._record(node, token, display, "unreadable", target.base, False)
            return
        if status == rs.DIRECTORY:
            self._add("directory-target", *where,
                      f"{shown}: `{display}` is a directory; Claude Code does not document "
                      "directory imports", hint="import the files in it one by one", target=display)
            self._record(node, token, display, "directory", target.base, False)
            return
        if (self.profile == "claude-code" and status == rs.FILE
                and not self.client.allows(target.path)):
            self._add("not-text-extension", *where,
                      f"{shown}: Claude Code {self.client.version} imports only files with a "
                      f"text extension; `{display}` is skipped without a word",
                      hint="rename it to `.md` (or another text extension)", target=display)
            self._record(node, token, display, "extension", target.base, False)
            return
        if target.others:
            alternatives = ", ".join(f"`{self.resolver.display(p)}` ({label})"
                                     for label, p in target.others)
            self._add("ambiguous-base", *where,
                      f"{shown} resolves to `{display}` ({target.base}) but also to "
                      f"{alternatives}; the first wins",
                      hint="write the path relative to the importing file so only one file matches",
                      target=display)
        pending.append((node, token, target, display))

    def _file(self, node: _Node, token: Token, target: rs.Target, display: str,
              level: list[_Node]) -> None:
        key = target.real or target.path
        existing = self.nodes.get(key)
        rel = self.resolver.display(key)
        if existing is None and is_excluded(rel, self.settings.exclude):
            self.imports_loaded += 1  # it loads; its content is excluded from the check
            self._record(node, token, display, "excluded", target.base, True)
            return
        limit = self.settings.depth
        if existing is None and limit is not None and node.depth + 1 > limit:
            chain = (*self._chain(node), display)
            self._add("depth-exceeded", node.rel, token.line, token.col,
                      f"`@{token.text}`: `{display}` is {node.depth + 1} hops from "
                      f"`{chain[0]}` (limit {limit}); Claude Code stops before it and never "
                      f"loads it: {' → '.join(chain)}",
                      hint="import it from a file closer to the root, or flatten the chain",
                      target=display, chain=chain)
            self._record(node, token, display, "beyond-depth", target.base, False)
            return
        self._load([(key, target.path)])  # a no-op: read with its level
        content = self.contents[key]
        if self.profile == "claude-code":  # the client drops empty and oversized files
            loads = content.problem in (None, fileread.CORRUPTED)
        else:
            loads = content.problem in (None, fileread.EMPTY, fileread.TOO_LARGE)
        if content.problem:
            self._content_finding(node.rel, token.line, token.col, display, content,
                                  shown=f"`@{token.text}`")
        if loads:
            self.imports_loaded += 1
        self._record(node, token, display, "loads" if content.problem is None else
                     content.problem.replace("-target", ""), target.base, loads)
        if not loads or (content.problem is not None and self.profile == "framework"):
            return
        if existing is None:
            existing = _Node(key, target.path, rel, node.depth + 1, False, node,
                             conditional=node.conditional)
            self.nodes[key] = existing
            level.append(existing)
        node.edges.setdefault(key, (token.line, token.col))

    def _record(self, node: _Node, token: Token, target: str | None, status: str,
                base: str | None, loads: bool) -> None:
        self.imports.append(Import(node.rel, token.line, token.col, token.text, target,
                                   status, base, loads))

    def _content_finding(self, path: str, line: int, col: int, display: str,
                         content: fileread.Content, shown: str = "", root: bool = False) -> None:
        what = f"root `{display}`" if root else f"{shown}: `{display}`"
        problem = content.problem or ""
        if problem == fileread.EMPTY:
            detail = " (only whitespace)" if content.detail != "empty" else ""
            message = f"{what} is empty{detail}; it loads nothing"
        elif problem == fileread.CORRUPTED:
            message = (f"{what} is {content.detail}: Claude Code loads it anyway, so garbage "
                       "reaches the model" if self.profile == "claude-code" else
                       f"{what} is {content.detail}: not text Claude Code can load")
        elif problem == fileread.TOO_LARGE and self.profile == "claude-code":
            message = (f"{what} is {content.detail} (limit {self.settings.max_file_bytes / 1048576:g} MB): "
                       "Claude Code skips it without a word")
        elif problem == fileread.TOO_LARGE:
            message = (f"{what} is {content.detail} (limit {self.settings.max_file_bytes / 1048576:g} MB): "
                       "not scanned for imports; Claude Code would put all of it in context")
        else:
            message = f"{what} cannot be read ({content.detail}); Claude Code drops it without a word"
        hint = None
        if problem == fileread.TOO_LARGE:
            hint = ("split the file below the limit" if self.profile == "claude-code"
                    else "raise links.max_file_mb to scan it, or split the file")
        self._add(problem, path, line, col, message, hint=hint, target=display)

    # -- findings that need words -------------------------------------------------

    def _missing(self, node: _Node, token: Token, path: str, target: rs.Target,
                 src_dir: str) -> str:
        """Report a target that does not resolve; returns the import's status:
        ``not-a-path`` (``@dataclass``, info) or ``missing`` (an error)."""
        r = self.resolver
        shown = f"`@{token.text}`"
        display = r.display(target.path)
        hint = r.missing_hint(src_dir, path, self.profile)
        near = hint
        if self.profile == "framework" and len(target.tried) > 1:
            tried = ", ".join(f"`{r.display(p)}`" for p in target.tried)
            message = f"{shown}: not found (tried {tried})"
        else:
            message = f"{shown}: `{display}` not found"
        if self.profile == "claude-code" and hint is None:
            if is_template(path):
                hint = ("this looks like a template, but Claude Code tries to load it as a "
                        "file: wrap it in backticks if it is documentation")
            elif not token.alone:
                hint = "if it is not meant as an import, wrap it in backticks so Claude Code skips it"
        bare = path.partition("#")[0]
        if not rs.looks_like_path(bare) and not rs.looks_like_path(rs.strip_trailing(bare)):
            self._add("not-a-path", node.rel, token.line, token.col,
                      f"{shown} does not look like a path (no `/`, no file extension) and "
                      "resolves to nothing", hint=hint, target=display)
            return "not-a-path"
        if (self.profile == "claude-code" and "/" in path and near is None
                and "." not in path.rsplit("/", 1)[-1]
                and not path.startswith(("./", "../", "/", "~"))):
            self._add("unresolved-name", node.rel, token.line, token.col,
                      f"{shown} looks like a package name (a `/`, no file extension) and "
                      "resolves to nothing", target=display)
            return "not-a-path"
        self._add("missing-target", node.rel, token.line, token.col, message, hint=hint,
                  target=display)
        return "missing"

    def _not_evaluated(self, node: _Node, token: Token, src_dir: str) -> None:
        if token.template:
            return
        path = token.path.partition("#")[0]
        if not path:
            return
        r = self.resolver
        as_import = r.resolve(src_dir, path, "claude-code")
        found = (as_import if as_import.status in (rs.FILE, rs.DIRECTORY)
                 else r.resolve(src_dir, path, "framework"))
        exists = found.status in (rs.FILE, rs.DIRECTORY)
        if not exists and not rs.looks_like_path(path):
            return  # `@dataclass` in a code block: not a link at all
        reason = token.reason or ""
        steps = [_NOT_EVALUATED_ACTIONS[reason]] if reason in _NOT_EVALUATED_ACTIONS else []
        if not token.spaced:
            steps.append("put whitespace before the `@`")
        if found.status == rs.DIRECTORY:
            tail = (f"; it names the directory `{r.display(found.path)}`, and Claude Code does "
                    "not document directory imports")
            steps = []
        elif found is as_import and exists:
            tail = f"; `{r.display(found.path)}` exists but is not loaded from here"
        elif exists:
            # Moving it out of the code would not be enough: it resolves only under
            # another base, so say what to write as well.
            tail = (f"; as written it would not resolve either (the file is "
                    f"`{r.display(found.path)}`)")
            rel = os.path.relpath(found.path, src_dir).replace(" ", "\\ ")
            steps.append(f"write `@{rel}`")
        elif as_import.status == rs.OUTSIDE:
            tail = ""
        else:
            tail = "; its target does not exist either"
        hint = None
        if exists and steps and reason != IN_COMMENT:
            lead = ", ".join(steps[:-1]) + " and " if len(steps) > 1 else ""
            hint = f"to load it, {lead}{steps[-1]}"
        self._add("not-evaluated", node.rel, token.line, token.col,
                  f"`@{token.text}` is not evaluated by Claude Code: {reason}{tail}", hint=hint)

    # -- chains and cycles --------------------------------------------------------

    def _chain(self, node: _Node) -> list[str]:
        chain = []
        current: _Node | None = node
        while current is not None:
            chain.append(current.rel)
            current = current.parent
        return chain[::-1]

    def _cycles(self) -> None:
        """Report cycles: one finding per DFS back edge (the import that closes a
        cycle), with the shortest cycle through it as the chain. A tangle of files
        importing each other can have thousands of back edges, so at most
        ``MAX_CYCLES_PER_GROUP`` are reported per strongly connected group, the
        last one saying how many more there are."""
        back_edges, component = self._back_edges()
        by_group: dict[int, list[tuple[_Node, str, int, int]]] = {}
        for edge in back_edges:
            by_group.setdefault(component[edge[1]], []).append(edge)
        for group, edges in by_group.items():
            members = {k for k, c in component.items() if c == group}
            for n, (here, target_key, line, col) in enumerate(edges[:MAX_CYCLES_PER_GROUP]):
                loop = [self.nodes[k].rel for k in self._shortest(target_key, here.key, members)]
                loop.append(self.nodes[target_key].rel)
                more = len(edges) - MAX_CYCLES_PER_GROUP
                tail = (f"; {more} more imports close cycles among the {len(members)} files "
                        "of this group" if n == MAX_CYCLES_PER_GROUP - 1 and more > 0 else "")
                self._add("cycle", here.rel, line, col,
                          f"import cycle: {' → '.join(loop)} (Claude Code loads each file once, "
                          f"so the cycle is cut here){tail}",
                          hint="remove one import of the cycle",
                          target=self.nodes[target_key].rel, chain=tuple(loop))

    def _back_edges(self) -> tuple[list[tuple[_Node, str, int, int]], dict[str, int]]:
        """Iterative Tarjan over the imports that load: the back edges in DFS order
        (source node, target key, line, col) and each node's component number."""
        order = sorted(self.nodes.values(), key=lambda n: (n.depth, n.rel))
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_path: set[str] = set()
        on_stack: set[str] = set()
        stack: list[str] = []
        component: dict[str, int] = {}
        back: list[tuple[_Node, str, int, int]] = []
        counter = 0
        for start in order:
            if start.key in index:
                continue
            index[start.key] = low[start.key] = counter
            counter += 1
            stack.append(start.key)
            on_stack.add(start.key)
            on_path.add(start.key)
            work = [(start, iter(list(start.edges.items())))]
            while work:
                node, edges = work[-1]
                advanced = False
                for target_key, (line, col) in edges:
                    if target_key not in index:
                        child = self.nodes[target_key]
                        index[target_key] = low[target_key] = counter
                        counter += 1
                        stack.append(target_key)
                        on_stack.add(target_key)
                        on_path.add(target_key)
                        work.append((child, iter(list(child.edges.items()))))
                        advanced = True
                        break
                    if target_key in on_path:
                        back.append((node, target_key, line, col))
                    if target_key in on_stack:
                        low[node.key] = min(low[node.key], index[target_key])
                if advanced:
                    continue
                work.pop()
                on_path.discard(node.key)
                if work:
                    parent = work[-1][0].key
                    low[parent] = min(low[parent], low[node.key])
                if low[node.key] == index[node.key]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = index[node.key]
                        if member == node.key:
                            break
        return back, component

    def _shortest(self, start: str, goal: str, members: set[str]) -> list[str]:
        """Keys on a shortest import path ``start`` → … → ``goal`` inside one group."""
        parent: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            key = queue.popleft()
            if key == goal:
                break
            for nxt in self.nodes[key].edges:
                if nxt in members and nxt not in parent:
                    parent[nxt] = key
                    queue.append(nxt)
        path: list[str] = []
        cursor: str | None = goal
        while cursor is not None:
            path.append(cursor)
            cursor = parent.get(cursor)
        return path[::-1]


_NOT_EVALUATED_ACTIONS = {
    IN_FENCE: "move it out of the code block",
    IN_INDENTED: "move it out of the indented (code) block",
    IN_CODE_SPAN: "remove the backticks",
    IN_HTML_BLOCK: "put it on a line of its own after a blank line (an HTML block ends at "
                   "a blank line)",
    IN_HTML_TAG: "move it out of the HTML tag",
}


def load_and_scan(job: tuple[str, bool, int, str, str, str]
                  ) -> tuple[fileread.Content, list[Token] | None]:
    """Read one file and find its tokens: the only place a file's content is read.

    Args:
        job: ``(path, decode, max_bytes, profile, html_blocks, client_version)``.

    Returns:
        The verdict without the text (it is not needed again) and the tokens, or
        ``None`` when the file is not usable text. claude-code reads as the client
        does: invalid UTF-8 and NUL bytes still load (``corrupted-target`` with the
        text decoded leniently), and a file that is empty once frontmatter and
        comments are removed is ``empty-target``.
    """
    path, decode, max_bytes, profile, html_blocks, version = job
    lenient = profile == "claude-code"
    content = fileread.read_content(path, max_bytes, decode, lenient)
    text = content.text
    if text is None:
        return content, None
    if profile == "framework":
        return replace(content, text=None), scan_framework(text)
    from recovery.links import client

    rules = client.rules_for(version)
    if content.problem is None:
        body = client.strip_frontmatter(text)[1] if rules.strip_frontmatter else text
        if client.is_empty(body, client.parse(body) if "<!--" in body else []):
            return fileread.Content(None, fileread.EMPTY, "empty once frontmatter and "
                                    "comments are removed", content.size_bytes), None
    return replace(content, text=None), scan_claude_code(text, html_blocks, rules)


def root_order(rel: str) -> tuple[int, str, int, str]:
    """Sort key putting memory roots in the client's order: directory by
    directory from the project root down, and in each ``CLAUDE.md``, then
    ``.claude/CLAUDE.md``, then the rule files, then ``CLAUDE.local.md``."""
    for rank, name in ((1, ".claude/CLAUDE.md"), (0, "CLAUDE.md"), (3, "CLAUDE.local.md")):
        if rel == name or rel.endswith("/" + name):
            head = rel[:-len(name)]
            return head.count("/"), head, rank, rel
    at = rel.find(".claude/rules/")
    if at != -1 and (at == 0 or rel[at - 1] == "/"):
        head = rel[:at]
        return head.count("/"), head, 2, rel
    return 99, "", 9, rel


def run(toplevel: Path, settings: LinkSettings) -> LinkReport:
    """Validate the project at ``toplevel``."""
    return Traversal(toplevel, settings).run()
