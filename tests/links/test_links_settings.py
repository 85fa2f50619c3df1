"""The `links` config table and command-line overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from links_helpers import run

from recovery.base.errors import UsageError
from recovery.links.settings import DEFAULT_ROOTS, LinkSettings

Project = Callable[..., Path]


def test_defaults(project: Project) -> None:
    s = LinkSettings.load(project())
    assert (s.profile, s.roots, s.bases, s.depth, s.fail_level, s.exclude, s.html_blocks) == (
        "claude-code", DEFAULT_ROOTS, (".claude",), 4, "error", (), "skip")
    assert LinkSettings.load(project(), {"profile": "framework"}).depth is None


def test_recover_toml(project: Project) -> None:
    top = project({".recover.toml": """
[links]
profile = "framework"
roots = ["prompts/*.md"]
bases = [".claude", "shared"]
depth = 3
fail_level = "warning"
exclude = ["archive/**"]
html_blocks = "evaluate"
max_file_mb = 1.5
"""})
    s = LinkSettings.load(top)
    assert (s.profile, s.roots, s.bases, s.depth, s.fail_level, s.exclude, s.html_blocks,
            s.max_file_bytes) == ("framework", ("prompts/*.md",), (".claude", "shared"), 3,
                                  "warning", ("archive/**",), "evaluate", int(1.5 * 1048576))


def test_pyproject_table(project: Project) -> None:
    top = project({"pyproject.toml": '[tool.git-recover.links]\nprofile = "framework"\n'})
    assert LinkSettings.load(top).profile == "framework"


def test_overrides_replace_except_exclude_which_adds(project: Project) -> None:
    top = project({".recover.toml": '[links]\nexclude = ["a"]\nroots = ["x.md"]\ndepth = 2\n'})
    s = LinkSettings.load(top, {"exclude": ["b"], "roots": ["y.md"], "depth": None,
                                "profile": None})
    assert s.exclude == ("a", "b") and s.roots == ("y.md",) and s.depth == 2
    assert s.explicit_roots


@pytest.mark.parametrize("toml,fragment", [
    ('profile = "claude"', "links.profile: expected one of claude-code, framework"),
    ('fail_level = "fatal"', "links.fail_level: expected one of error, warning, info, none"),
    ("depth = 0", "links.depth: expected a whole number"),
    ('depth = "deep"', "links.depth"),
    ("roots = []", "links.roots: needs at least one glob"),
    ('roots = "/abs/*.md"', "must be a path relative to the project root"),
    ('exclude = ["../x"]', "must be a path relative to the project root"),
    ("bases = [1]", "links.bases: expected a list of strings"),
    ("max_file_mb = -1", "links.max_file_mb"),
    ('html_blocks = "yes"', "links.html_blocks"),
    ("fail-level = 'error'", "unknown key (did you mean 'fail_level'?)"),
])
def test_bad_config_is_a_usage_error_naming_the_key(project: Project, toml: str, fragment: str) -> None:
    top = project({".recover.toml": f"[links]\n{toml}\n"})
    with pytest.raises(UsageError) as err:
        run(top)
    assert fragment in err.value.message and ".recover.toml" in err.value.message
    assert err.value.exit_code == 3


def test_links_must_be_a_table(project: Project) -> None:
    with pytest.raises(UsageError, match="expected a table"):
        run(project({".recover.toml": 'links = "yes"\n'}))


def test_invalid_toml(project: Project) -> None:
    with pytest.raises(UsageError, match="invalid TOML"):
        run(project({".recover.toml": "[links\n"}))


def test_bad_override_names_the_command_line(project: Project) -> None:
    with pytest.raises(UsageError, match="command line: profile"):
        run(project(), profile="nope")


def test_explicit_literal_root_must_exist(project: Project) -> None:
    with pytest.raises(UsageError, match=r"root not found: nope\.md"):
        run(project({"CLAUDE.md": "x"}), roots=["nope.md"])


def test_explicit_directory_root_means_its_markdown(project: Project) -> None:
    top = project({"prompts/a.md": "@b.md", "prompts/x/c.md": "x", "prompts/b.md": "x"})
    assert run(top, roots=["prompts"]).roots == ["prompts/a.md", "prompts/b.md", "prompts/x/c.md"]
