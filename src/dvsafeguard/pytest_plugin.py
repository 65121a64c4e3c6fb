"""pytest plugin: every ``*.tests.yaml`` pack-test file is collected, one item per test case.

Registered as the ``pytest11`` entry point ``dvsafeguard``, so ``pytest`` in a project with
``testpaths = ["tests", "rules"]`` runs the pack tests beside the packs. Pack files themselves
(``<version>.yaml``) are never collected, nor are pack-test files under a ``fixtures``
directory (test fixtures may be deliberately broken). A failing pack test shows what was
expected, what was decided and the decision's trace, as ``dvsafeguard test`` does; a pack-test
file that cannot be read is a collection error naming file, line, column and field.

``--dvsafeguard-engine durable`` evaluates the cases with the durable-rules engine instead of
the compiled one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the library is imported only when a pack-test file is collected
    from .pack import Pack
    from .packtest import Engine, LoadedTest, TestResult

TESTS_SUFFIX = ".tests.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dvsafeguard")
    group.addoption("--dvsafeguard-engine", choices=["compiled", "durable"], default="compiled",
                    help="engine that evaluates pack-test cases (default: compiled)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # test fixtures (under a `fixtures` directory) may be deliberately broken: not collected
    if file_path.name.endswith(TESTS_SUFFIX) and "fixtures" not in file_path.parts:
        return PackTestFileNode.from_parent(parent, path=file_path)
    return None  # pack files and any other YAML are not tests


class PackTestFailed(AssertionError):
    """A pack test whose decision differs from its expectation."""

    def __init__(self, result: TestResult) -> None:
        super().__init__(result.report())
        self.result = result


class PackTestFileNode(pytest.File):
    """A ``*.tests.yaml`` file: one item per test."""

    def collect(self) -> Iterator[PackTestItem]:
        from .errors import DvsafeguardError
        from .packtest import load_tests

        try:
            loaded = load_tests(self.path)
        except DvsafeguardError as e:
            raise self.CollectError(str(e)) from None
        for test in loaded.tests:
            yield PackTestItem.from_parent(self, name=test.name, test=test, pack=loaded.pack)


class PackTestItem(pytest.Item):
    """One pack test."""

    def __init__(self, *, test: LoadedTest, pack: Pack, **kw: Any) -> None:
        super().__init__(**kw)
        self.test = test
        self.pack = pack

    def runtest(self) -> None:
        from .packtest import run_test

        engine: Engine = self.config.getoption("dvsafeguard_engine")
        result = run_test(self.test, self.pack, engine)
        if not result.passed:
            raise PackTestFailed(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, PackTestFailed):
            return excinfo.value.result.report()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.test.line - 1 if self.test.line else None
        return self.path, line, f"pack test: {self.name}"
