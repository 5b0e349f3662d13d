"""Mechanical Groovy -> Python translation of the original Drift's scripts (`manage.py import_drift`).

Only what maps one to one is translated: map/list literals (`[:]`, `['k': v]`), safe navigation `?.`
(Drift's context values are null-safe already), elvis `?:` (`or`), `&&` `||` `!`, `null/true/false`,
`def` and typed declarations, and string concatenation with non-strings (`'a' + n` -> `'a' + str(n)`).
Common methods with a Python twin are rewritten (`x.size()` -> `len(x)`, `.isEmpty()`, `.toString()`,
`.contains(v)`, `.equals(v)`, `.toUpperCase()`, `.toLowerCase()`, `.trim()`, `.startsWith()`, `.endsWith()`,
`.keySet()`). Anything else (closures and blocks, `new`, Java classes, GStrings, ternaries, other method
calls, regexes, `++`) is reported, never guessed. Pure: no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<triple>'''|\"\"\")
  | (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlGgDdFfIi]?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
  | (?P<op>==~|<=>|\?\.|\?:|\?\[|==|!=|<=|>=|&&|\|\||->|=~|\+\+|--|\+=|-=|\*=|/=|\*\*|<<|>>
         |[-+*/%<>=!?:.,;()\[\]{}~&|^@])
""", re.VERBOSE | re.DOTALL)

KEYWORDS = {"null": "None", "true": "True", "false": "False"}
# Groovy words with no mechanical translation, and why.
UNSUPPORTED_WORDS = {
    "new": "object construction (`new`)", "if": "if/else statements", "else": "if/else statements",
    "for": "loops", "while": "loops", "switch": "switch statements", "try": "try/catch", "catch": "try/catch",
    "throw": "throw", "instanceof": "instanceof", "as": "`as` casts", "class": "classes", "import": "imports",
    "it": "closure parameter `it`", "this": "`this`", "println": "println", "evaluate": "evaluate()",
}
# Methods that mean the same on Python dicts (and Drift's context views).
PYTHON_METHODS = {"get", "keys", "values"}
# Groovy methods with a one-to-one Python spelling ({r}: the receiver, {a}: the arguments).
GROOVY_METHODS = {
    "size": "len({r})", "isEmpty": "(len({r}) == 0)", "toString": "str({r})", "contains": "(({a}) in {r})",
    "equals": "({r} == ({a}))", "toUpperCase": "str({r}).upper()", "toLowerCase": "str({r}).lower()",
    "trim": "str({r}).strip()", "startsWith": "str({r}).startswith({a})", "endsWith": "str({r}).endswith({a})",
    "keySet": "list({r}.keys())",
}
STRING_METHODS = {"toString", "toUpperCase", "toLowerCase", "trim"}  # their result is a string
BREAKERS = {",", ";", "\n", "=", "==", "!=", "<", ">", "<=", ">=", "and", "or", "not", "return", ":", "+=", "-=",
            "-", "in"}


@dataclass
class Token:
    kind: str
    text: str


@dataclass
class Group:
    open: str
    items: list = field(default_factory=list)


@dataclass
class Translation:
    source: str | None  # the Python body, None when anything could not be translated
    problems: list[str]


class Untranslatable(Exception):
    pass


def translate(groovy: str) -> Translation:
    """The Python function body for a Groovy script, or the reasons it cannot be translated."""
    try:
        tokens = _tokenize(groovy)
        problems = sorted({problem for token in tokens for problem in _token_problems(token)})
        problems += _call_problems(tokens)
        if problems:
            return Translation(None, problems)
        tree = _group(tokens)
        return Translation(_tidy(_emit(tree)), [])
    except Untranslatable as exc:
        return Translation(None, [str(exc)])


def _tokenize(source: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise Untranslatable(f"unexpected character {source[position]!r} at offset {position}")
        position = match.end()
        kind = match.lastgroup
        if kind in ("comment", "ws"):
            continue
        if kind == "triple":
            raise Untranslatable("triple-quoted strings")
        tokens.append(Token(kind, match.group()))
    return tokens


def _token_problems(token: Token) -> list[str]:
    if token.kind == "str" and token.text.startswith('"') and "$" in token.text:
        return [f"GString interpolation in {token.text[:40]}"]
    if token.kind == "ident" and token.text in UNSUPPORTED_WORDS:
        return [UNSUPPORTED_WORDS[token.text]]
    if token.kind == "op":
        reasons = {"{": "closures or blocks ({ ... })", "}": "closures or blocks ({ ... })", "->": "closures (->)",
                   "=~": "regular expressions", "==~": "regular expressions", "~": "regular expressions",
                   "<=>": "the spaceship operator <=>", "++": "++ (write x += 1)", "--": "-- (write x -= 1)",
                   "?": "the ternary a ? b : c", "?[": "safe indexing ?[", "@": "annotations",
                   "<<": "<< (left shift / append)", ">>": ">>", "&": "bitwise &", "|": "bitwise |", "^": "^"}
        if token.text in reasons:
            return [reasons[token.text]]
    return []


def _call_problems(tokens: list[Token]) -> list[str]:
    """Java/Groovy classes and method calls that Python does not share."""
    problems = set()
    for index, token in enumerate(tokens):
        if token.kind != "ident":
            continue
        before = tokens[index - 1].text if index else ""
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        following = tokens[index + 2] if index + 2 < len(tokens) else None
        if token.text[0].isupper() and before not in (".", "?.") and not (after and after.kind == "ident"):
            problems.add(f"Java/Groovy class {token.text}")
        known = token.text in PYTHON_METHODS or token.text in GROOVY_METHODS
        if before in (".", "?.") and after and after.text == "(" and not known:
            problems.add(f"method call .{token.text}()")
        if token.text[0].isupper() and after and after.kind == "ident" and following and following.text != "=":
            problems.add(f"Java/Groovy class {token.text}")
    return sorted(problems)


def _group(tokens: list[Token]) -> list:
    """Nest () and [] into Groups (braces were refused before)."""
    root: list = []
    stack: list[tuple[list, str]] = [(root, "")]
    for token in tokens:
        if token.kind == "op" and token.text in "([":
            group = Group(token.text)
            stack[-1][0].append(group)
            stack.append((group.items, token.text))
        elif token.kind == "op" and token.text in ")]":
            if stack[-1][1] != {")": "(", "]": "["}[token.text]:
                raise Untranslatable(f"unbalanced {token.text}")
            stack.pop()
        else:
            stack[-1][0].append(token)
    if len(stack) > 1:
        raise Untranslatable(f"unclosed {stack[-1][1]}")
    return root


def _is_operand_end(item: object) -> bool:
    """Whether `item` ends an operand (so a following `[` indexes and a `(` calls)."""
    if isinstance(item, Group):
        return True
    return isinstance(item, Token) and (item.kind in ("ident", "str", "num") and item.text not in ("return", "in"))


@dataclass
class Unit:
    text: str
    string: bool = False  # a string literal operand


def _emit(items: list) -> str:
    units = _units(items)
    return " ".join(unit.text for unit in _concat_strings(_negations(units)))


def _units(items: list) -> list[Unit]:
    """Each token or group translated, with Groovy declarations dropped and known methods rewritten."""
    units: list[Unit] = []
    previous: object = None
    index = 0
    while index < len(items):
        item = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if _is_method_call(item, following, units):
            units.append(Unit(_method(item.text, _pop_receiver(units), _emit(following.items)),
                              string=item.text in STRING_METHODS))
            previous, index = following, index + 2
            continue
        if isinstance(item, Group):
            units.append(Unit(_emit_group(item, literal=not _is_operand_end(previous)), False))
            units[-1].text = ("\0" if _is_operand_end(previous) else "") + units[-1].text
        elif item.kind == "ident" and item.text == "def":
            pass
        elif item.kind == "ident" and item.text[0].isupper() and isinstance(following, Token) \
                and following.kind == "ident":
            pass  # a typed declaration `String name = ...`
        elif item.kind == "ident":
            units.append(Unit(KEYWORDS.get(item.text, item.text)))
        elif item.kind == "num":
            units.append(Unit(re.sub(r"[LlGgDdFfIi]$", "", item.text)))
        elif item.kind == "str":
            units.append(Unit(item.text, string=True))
        elif item.kind == "nl":
            units.append(Unit("\n"))
        else:
            units.append(Unit({"?.": "\0.\0", ".": "\0.\0", "?:": "or", "&&": "and", "||": "or", "!": "not"}.get(
                item.text, item.text)))
        previous = item
        index += 1
    return units


def _is_method_call(item: object, following: object, units: list[Unit]) -> bool:
    return (isinstance(item, Token) and item.kind == "ident" and item.text in GROOVY_METHODS
            and isinstance(following, Group) and following.open == "(" and bool(units) and units[-1].text == "\0.\0")


def _pop_receiver(units: list[Unit]) -> str:
    """Remove and return the operand chain before `.method(` (`a.b[0]`, `f(x).y`, `(a + b)`)."""
    units.pop()  # the dot
    start = len(units) - 1
    while start > 0 and (units[start].text.startswith("\0") or units[start - 1].text == "\0.\0"):
        start -= 1
    receiver = " ".join(unit.text for unit in units[start:])
    del units[start:]
    return receiver


def _method(name: str, receiver: str, args: str) -> str:
    return GROOVY_METHODS[name].format(r=receiver, a=args)


def _emit_group(group: Group, *, literal: bool) -> str:
    if group.open == "(":
        return "(" + _emit(group.items) + ")"
    if not literal:
        return "[" + _emit(group.items) + "]"
    entries = _split(group.items, ",")
    if len(group.items) == 1 and isinstance(group.items[0], Token) and group.items[0].text == ":":
        return "{}"  # [:]
    pairs = [_split(entry, ":", maxsplit=1) for entry in entries]
    if any(len(pair) == 2 for pair in pairs if pair and pair[0]):
        if not all(len(pair) == 2 for pair in pairs if any(not _is_newline(i) for i in pair[0])):
            raise Untranslatable("a map literal with an entry that is not key: value")
        return "{" + ", ".join(f"{_map_key(pair[0])}: {_emit(pair[1])}" for pair in pairs
                                 if any(not _is_newline(i) for i in pair[0])) + "}"
    return "[" + ", ".join(_emit(entry) for entry in entries if any(not _is_newline(i) for i in entry)) + "]"


def _is_newline(item: object) -> bool:
    return isinstance(item, Token) and item.kind == "nl"


def _split(items: list, separator: str, maxsplit: int = -1) -> list[list]:
    parts: list[list] = [[]]
    for item in items:
        if isinstance(item, Token) and item.kind == "op" and item.text == separator and maxsplit != 0:
            parts.append([])
            maxsplit -= 1
        else:
            parts[-1].append(item)
    return parts


def _map_key(items: list) -> str:
    items = [item for item in items if not _is_newline(item)]
    if len(items) == 1 and isinstance(items[0], Token) and items[0].kind == "ident":
        return repr(items[0].text)  # [name: v] means the string key 'name'
    return _emit(items)


def _negations(units: list[Unit]) -> list[Unit]:
    """Groovy's `!x.y` binds tighter than Python's `not`: parenthesise the operand."""
    result: list[Unit] = []
    index = 0
    while index < len(units):
        if units[index].text == "not" and (index == 0 or units[index - 1].text != "is"):
            end = _operand_end(units, index + 1)
            operand = " ".join(u.text for u in _negations(units[index + 1:end]))
            result.append(Unit(f"(not {operand})"))
            index = end
            continue
        result.append(units[index])
        index += 1
    return result


def _operand_end(units: list[Unit], start: int) -> int:
    end = start
    while end < len(units) and (end == start or units[end].text.startswith("\0") or units[end].text == "\0.\0"
                                or units[end - 1].text == "\0.\0"):
        end += 1
    return end


def _concat_strings(units: list[Unit]) -> list[Unit]:
    """In a `+` chain with a string literal, wrap the other operands in str() (Groovy converts them)."""
    result: list[Unit] = []
    chain: list[list[Unit]] = [[]]

    def flush() -> None:
        has_string = len(chain) > 1 and any(len(op) == 1 and op[0].string for op in chain)
        for position, operand in enumerate(chain):
            if position:
                result.append(Unit("+"))
            if has_string and operand and not (len(operand) == 1 and operand[0].string):
                result.append(Unit("str(" + " ".join(u.text for u in operand) + ")"))
            else:
                result.extend(operand)

    for unit in units:
        if unit.text == "+":
            chain.append([])
        elif unit.text in BREAKERS:
            flush()
            result.append(unit)
            chain = [[]]
        else:
            chain[-1].append(unit)
    flush()
    return result


def _tidy(text: str) -> str:
    text = re.sub(r"\s*\0\s*", "", text)  # joins: a.b, f(x), a[0]
    text = re.sub(r"\( ", "(", text)
    text = re.sub(r" \)", ")", text)
    text = re.sub(r" ,", ",", text)
    text = re.sub(r" ;", ";", text)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return text.strip() + "\n"
