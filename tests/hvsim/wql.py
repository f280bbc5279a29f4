# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A WQL subset: SELECT * | props FROM Class [WHERE cond], parsed for real and evaluated on property dicts.

Conditions: = <> != < > <= >=, LIKE, IS [NOT] NULL, NOT, AND, OR, parentheses; literals are single- or
double-quoted strings (a backslash escapes the next character), integers (decimal or 0x hex), TRUE,
FALSE and NULL. String comparisons ignore case, as WMI's do. Anything else is a WqlError, which the
responder turns into the WMI "invalid query" fault (0x80041017).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

KEYWORDS = {'SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'LIKE', 'IS', 'NULL', 'TRUE', 'FALSE'}
COMPARISONS = ('<=', '>=', '<>', '!=', '=', '<', '>')
_IDENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_NUMBER = re.compile(r'[-+]?(0[xX][0-9A-Fa-f]+|[0-9]+)')


class WqlError(ValueError):
    """The query is not valid WQL (as far as this subset goes)."""


@dataclass(frozen=True)
class Token:
    """One lexical token: kind is ident, keyword, string, number, op or punct."""

    kind: str
    value: Any
    pos: int


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens; string escapes are resolved here, so `\\'` never ends a literal."""
    tokens = []
    pos = 0
    while pos < len(query):
        char = query[pos]
        if char.isspace():
            pos += 1
        elif char in '\'"':
            value, pos = _read_string(query, pos)
            tokens.append(Token('string', value, pos))
        elif char in '(),*':
            tokens.append(Token('punct', char, pos))
            pos += 1
        elif char in '<>!=':
            op = next((candidate for candidate in COMPARISONS if query.startswith(candidate, pos)), None)
            if op is None:
                raise WqlError(f'unexpected {char!r} at offset {pos}')
            tokens.append(Token('op', op, pos))
            pos += len(op)
        elif char.isdigit() or (char in '+-' and query[pos + 1:pos + 2].isdigit()):
            match = _NUMBER.match(query, pos)
            literal = match.group(0)
            tokens.append(Token('number', int(literal, 16 if 'x' in literal.lower() else 10), pos))
            pos = match.end()
        elif match := _IDENT.match(query, pos):
            word = match.group(0)
            kind = 'keyword' if word.upper() in KEYWORDS else 'ident'
            tokens.append(Token(kind, word.upper() if kind == 'keyword' else word, pos))
            pos = match.end()
        else:
            raise WqlError(f'unexpected {char!r} at offset {pos}')
    return tokens


def _read_string(query: str, start: int) -> tuple[str, int]:
    """Read a quoted literal starting at its opening quote; returns the value and the offset after it."""
    quote = query[start]
    chars = []
    pos = start + 1
    while pos < len(query):
        char = query[pos]
        if char == '\\':
            if pos + 1 >= len(query):
                break
            chars.append(query[pos + 1])
            pos += 2
        elif char == quote:
            return ''.join(chars), pos + 1
        else:
            chars.append(char)
            pos += 1
    raise WqlError(f'unterminated string literal starting at offset {start}')


@dataclass
class Query:
    """A parsed query; where is None or a predicate over a property lookup."""

    class_name: str
    columns: list[str] | None  # None means SELECT *
    where: Callable[[Callable[[str], Any]], bool] | None = None
    properties: set[str] = field(default_factory=set)  # every property the condition names

    def matches(self, props: Mapping[str, Any]) -> bool:
        """True when the instance (a name -> value mapping) satisfies the WHERE clause."""
        if self.where is None:
            return True
        folded = {name.lower(): value for name, value in props.items()}
        for name in self.properties:
            if name.lower() not in folded:
                raise WqlError(f"'{name}' is not a property of {self.class_name}")
        return bool(self.where(lambda name: folded.get(name.lower())))


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0
        self.properties: set[str] = set()

    def peek(self, kind: str | None = None, value: Any = None) -> Token | None:
        if self.index >= len(self.tokens):
            return None
        token = self.tokens[self.index]
        if (kind is not None and token.kind != kind) or (value is not None and token.value != value):
            return None
        return token

    def take(self, kind: str, value: Any = None, what: str = '') -> Token:
        token = self.peek(kind, value)
        if token is None:
            found = self.tokens[self.index] if self.index < len(self.tokens) else None
            where = f"'{found.value}' at offset {found.pos}" if found else 'the end of the query'
            raise WqlError(f'expected {what or value or kind}, found {where}')
        self.index += 1
        return token

    def query(self) -> Query:
        self.take('keyword', 'SELECT')
        columns: list[str] | None = None
        if self.peek('punct', '*'):
            self.index += 1
        else:
            columns = [self.take('ident', what='a property name').value]
            while self.peek('punct', ','):
                self.index += 1
                columns.append(self.take('ident', what='a property name').value)
        self.take('keyword', 'FROM')
        class_name = self.take('ident', what='a class name').value
        where = None
        if self.peek('keyword', 'WHERE'):
            self.index += 1
            where = self.disjunction()
        if self.index != len(self.tokens):
            token = self.tokens[self.index]
            raise WqlError(f"unexpected '{token.value}' at offset {token.pos}")
        return Query(class_name, columns, where, self.properties)

    def disjunction(self):
        terms = [self.conjunction()]
        while self.peek('keyword', 'OR'):
            self.index += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda get: any(term(get) for term in terms))

    def conjunction(self):
        terms = [self.negation()]
        while self.peek('keyword', 'AND'):
            self.index += 1
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda get: all(term(get) for term in terms))

    def negation(self):
        if self.peek('keyword', 'NOT'):
            self.index += 1
            inner = self.negation()
            return lambda get: not inner(get)
        if self.peek('punct', '('):
            self.index += 1
            inner = self.disjunction()
            self.take('punct', ')', "')'")
            return inner
        return self.comparison()

    def operand(self) -> tuple[str, Any]:
        """('prop', name) or ('lit', value)."""
        token = self.peek()
        if token is None:
            raise WqlError('expected a property or a literal, found the end of the query')
        self.index += 1
        if token.kind == 'ident':
            self.properties.add(token.value)
            return 'prop', token.value
        if token.kind in ('string', 'number'):
            return 'lit', token.value
        if token.kind == 'keyword' and token.value in ('TRUE', 'FALSE'):
            return 'lit', token.value == 'TRUE'
        if token.kind == 'keyword' and token.value == 'NULL':
            return 'lit', None
        raise WqlError(f"expected a property or a literal, found '{token.value}' at offset {token.pos}")

    def comparison(self):
        left = self.operand()
        if self.peek('keyword', 'IS'):
            self.index += 1
            negate = bool(self.peek('keyword', 'NOT'))
            if negate:
                self.index += 1
            self.take('keyword', 'NULL')
            if left[0] != 'prop':
                raise WqlError('IS NULL needs a property on its left')
            return lambda get: (get(left[1]) is None) != negate
        negate_like = bool(self.peek('keyword', 'NOT'))
        if negate_like:
            self.index += 1
        if self.peek('keyword', 'LIKE'):
            self.index += 1
            pattern = self.take('string', what='a LIKE pattern').value
            if left[0] != 'prop':
                raise WqlError('LIKE needs a property on its left')
            regex = like_to_regex(pattern)
            return lambda get: _like(get(left[1]), regex) != negate_like
        if negate_like:
            raise WqlError('NOT must be followed by LIKE here')
        op = self.take('op', what='a comparison operator').value
        right = self.operand()
        if left[0] == 'lit' and right[0] == 'lit':
            raise WqlError('a comparison needs at least one property')

        def compare(get):
            lhs = get(left[1]) if left[0] == 'prop' else left[1]
            rhs = get(right[1]) if right[0] == 'prop' else right[1]
            return compare_values(lhs, op, rhs)
        return compare


def like_to_regex(pattern: str) -> re.Pattern:
    """WQL LIKE: % any run, _ one character, [set] / [^set] a character class; case-insensitive."""
    parts = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == '%':
            parts.append('.*')
        elif char == '_':
            parts.append('.')
        elif char == '[' and ']' in pattern[pos + 1:]:
            end = pattern.index(']', pos + 1)
            body = pattern[pos + 1:end]
            negated = body.startswith('^')
            body = body[1:] if negated else body
            parts.append('[' + ('^' if negated else '') + ''.join('\\' + c if c in '\\]^[' else c for c in body) + ']')
            pos = end
        else:
            parts.append(re.escape(char))
        pos += 1
    return re.compile(''.join(parts), re.IGNORECASE | re.DOTALL)


def _like(value: Any, regex: re.Pattern) -> bool:
    return isinstance(value, str) and regex.fullmatch(value) is not None


def _coerce(value: Any, like: Any) -> Any:
    """Bring a literal to the type of the value it is compared with (WMI converts the same way)."""
    if value is None or like is None:
        return value
    if isinstance(like, bool):
        if isinstance(value, str):
            return {'true': True, 'false': False}.get(value.lower(), value)
        return bool(value) if isinstance(value, int) else value
    if isinstance(like, int):
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text, 16 if text.lower().startswith(('0x', '-0x')) else 10)
            except ValueError:
                return value
        return value
    if isinstance(like, str) and isinstance(value, (int, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def compare_values(lhs: Any, op: str, rhs: Any) -> bool:
    """Apply a comparison the way WQL does; NULL compares false, arrays never match."""
    if isinstance(lhs, list) or isinstance(rhs, list) or lhs is None or rhs is None:
        return False
    rhs = _coerce(rhs, lhs)
    lhs = _coerce(lhs, rhs)
    if type(lhs) is not type(rhs) and not (isinstance(lhs, int) and isinstance(rhs, int)):
        return False
    if isinstance(lhs, str):
        lhs, rhs = lhs.lower(), rhs.lower()
    if op == '=':
        return lhs == rhs
    if op in ('<>', '!='):
        return lhs != rhs
    ordering = {'<': lhs < rhs, '>': lhs > rhs, '<=': lhs <= rhs, '>=': lhs >= rhs}
    return ordering[op]


def parse(query: str) -> Query:
    """Parse a WQL query; raises WqlError with the reason when it is not valid."""
    if not isinstance(query, str) or not query.strip():
        raise WqlError('empty query')
    return _Parser(tokenize(query)).query()


def escape_literal(value: str) -> str:
    """Quote a value as a WQL string literal (for tests and tools building queries)."""
    return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"
