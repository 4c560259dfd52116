"""Tables for people that never cut an id.

Plan, review, instance, deployment and endpoint ids are copied out of tables into the next
command, so a table must show each one whole, on one line, whatever the terminal's width (80
columns when stdout is a pipe, or ``COLUMNS``). When the table is wider than that, in order:

1. other columns wrap at spaces (a long cell takes more lines);
2. columns the command marked optional are left out, the last first, and one stderr line
   names them (``--wide`` keeps every column: the table is then as wide as it needs);
3. other columns fold inside words (never below a few characters);
4. only when the ids alone do not fit is the table wider than the terminal: a terminal wraps
   long lines but the id's characters stay together for copying.

Nothing is ever replaced with an ellipsis. Which columns hold ids is said by the command, or
by the header (:data:`ID_HEADERS`). rich is imported only here, when a table is printed.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

#: Headers whose cells are ids unless the command says otherwise.
ID_HEADERS = frozenset({"id", "plan", "review", "instance", "deployment", "endpoint", "endpoint id", "consumer",
                        "grantee", "contract id"})
_PAD = 2          # a cell's padding, one space each side
_FOLD_MIN = 4     # the narrowest a folded column gets


def _longest_word(text: str, cell_len: Any) -> int:
    return max((cell_len(word) for line in text.splitlines() for word in line.split()), default=0)


def _longest_line(text: str, cell_len: Any) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def layout(columns: Sequence[str], rows: list[list[str]], width: int, *, ids: Iterable[str],
           optional: Sequence[str] = (), wide: bool = False) -> tuple[list[int], dict[int, int], int]:
    """Which columns to show, the fixed content width of some of them, and the width to render at.

    Returns ``(kept column indexes, {index: content width}, render width)``; a column without
    a width is left at its natural width (everything fits)."""
    from rich.cells import cell_len

    id_set = set(ids)
    natural = [max([1, cell_len(c)] + [_longest_line(r[i], cell_len) for r in rows]) for i, c in enumerate(columns)]
    word = [max([1, _longest_word(c, cell_len)] + [_longest_word(r[i], cell_len) for r in rows])
            for i, c in enumerate(columns)]
    keep = list(range(len(columns)))

    def overhead(indexes: list[int]) -> int:
        return _PAD * len(indexes) + max(len(indexes) - 1, 0)   # padding and one rule between columns

    def need(indexes: list[int], widths: list[int]) -> int:
        return overhead(indexes) + sum(widths[i] for i in indexes)

    fixed = {i: natural[i] for i in keep if columns[i] in id_set}
    if wide:
        return keep, fixed, max(width, need(keep, natural))
    if need(keep, natural) <= width:
        return keep, fixed, width
    droppable = [columns.index(c) for c in optional if c in columns]  # an optional id goes whole, never cut
    while need(keep, [natural[i] if i in fixed else word[i] for i in range(len(columns))]) > width and droppable:
        dropped = droppable.pop()
        keep.remove(dropped)
        fixed.pop(dropped, None)
    others = [i for i in keep if i not in fixed]
    budget = width - overhead(keep) - sum(fixed.values())
    wants = [natural[i] for i in others]
    if budget >= sum(word[i] for i in others):   # wrap at spaces: no word is broken
        return keep, {**fixed, **dict(zip(others, _shares(budget, wants, [word[i] for i in others])))}, width
    floors = [min(word[i], _FOLD_MIN) for i in others]
    if budget >= sum(floors):                    # fold inside words, never an id
        return keep, {**fixed, **dict(zip(others, _shares(budget, wants, floors)))}, width
    widths = {**fixed, **dict(zip(others, floors))}
    return keep, widths, overhead(keep) + sum(widths.values())


def _shares(budget: int, wants: list[int], floors: list[int]) -> list[int]:
    """``budget`` split over columns: each its floor, the rest in proportion to how much more
    each wants, never more than it wants."""
    left = budget - sum(floors)
    more = [max(w - f, 0) for w, f in zip(wants, floors)]
    total = sum(more) or 1
    return [f + min(m, m * left // total) for f, m in zip(floors, more)]


def render(console: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
           ids: Iterable[str] | None = None, optional: Sequence[str] = (), wide: bool = False) -> list[str]:
    """Print the table on ``console``; returns the optional columns it left out."""
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    id_columns = [c for c in columns if c in (ID_HEADERS if ids is None else set(ids))]
    keep, widths, render_width = layout(columns, cells, console.width, ids=id_columns, optional=optional, wide=wide)
    table = Table(title=title, show_edge=False, header_style="bold")
    for i in keep:
        is_id = columns[i] in id_columns
        table.add_column(columns[i], width=widths.get(i), no_wrap=is_id or wide, overflow="fold")
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    before = console.width
    if render_width != before:
        console.width = render_width   # wider than the terminal only for whole ids (or --wide)
    try:
        console.print(table)
    finally:
        if render_width != before:
            console.width = before
    return [columns[i] for i in range(len(columns)) if i not in keep]
