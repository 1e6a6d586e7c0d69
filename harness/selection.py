"""`-k` expressions, as pytest has them: words joined by `and`, `or`, `not` and parentheses; a
word matches a journey when it is a case-insensitive substring of its name or one of its tags."""

from __future__ import annotations

import ast
from collections.abc import Set
from dataclasses import dataclass

from harness.errors import UsageError


@dataclass(frozen=True)
class KeywordExpression:
    """A compiled `-k` expression."""

    source: str
    tree: ast.expr

    @classmethod
    def compile(cls, source: str) -> KeywordExpression:
        """Parse `source`; raises `UsageError` with an example when it is not a valid expression."""
        # Words may contain '-' (journey names do); Python would read them as subtraction.
        prepared = source.replace("-", "__DASH__")
        try:
            tree = ast.parse(prepared, mode="eval").body
        except SyntaxError:
            raise UsageError(
                f"-k {source!r} is not a valid expression: use words joined by and/or/not, "
                "e.g. -k 'checkout and not mobile'"
            ) from None
        cls._check(tree, source)
        return cls(source, tree)

    @classmethod
    def _check(cls, node: ast.expr, source: str) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                cls._check(value, source)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            cls._check(node.operand, source)
        elif not isinstance(node, ast.Name):
            raise UsageError(
                f"-k {source!r}: only words, and, or, not and parentheses are allowed, "
                "e.g. -k 'checkout or reorder'"
            )

    def matches(self, words: Set[str]) -> bool:
        """True when the expression holds for a journey with these names and tags."""
        lowered = [w.lower() for w in words]
        return self._eval(self.tree, lowered)

    def _eval(self, node: ast.expr, words: list[str]) -> bool:
        if isinstance(node, ast.BoolOp):
            results = (self._eval(v, words) for v in node.values)
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.UnaryOp):
            return not self._eval(node.operand, words)
        assert isinstance(node, ast.Name)  # guaranteed by _check
        needle = node.id.replace("__DASH__", "-").lower()
        return any(needle in w for w in words)
