"""Tables that fit 80 columns (a terminal, a pipe, a CI log) and never cut a header: each
column is at least as wide as its header, the widest columns give up width first, and a long
cell wraps onto more lines instead of being cut with an ellipsis. A header or value that is
abbreviated is explained in a legend printed under the table."""

from __future__ import annotations

from collections.abc import Iterator

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

# Between two columns: one space of padding each side and the (blank) separator.
GAP = 3


class Grid:
    """A table whose column widths are decided here, for the width it is printed at."""

    def __init__(self, *headers: str, title: str | None = None) -> None:
        self.headers, self.title = headers, title
        self.rows: list[tuple[tuple[str, ...], str]] = []

    def add_row(self, *cells: str, style: str = "") -> None:
        self.rows.append((cells, style))

    def widths(self, available: int) -> list[int]:
        """Natural widths, then shrunk to fit ``available``: first down to each column's
        longest word (cells wrap between words), then, widest first, down to its header
        (words fold), never below it."""
        natural = [len(h) for h in self.headers]
        word = list(natural)
        for cells, _ in self.rows:
            for i, cell in enumerate(cells):
                plain = Text.from_markup(cell).plain
                natural[i] = max([natural[i], *(len(line) for line in plain.split("\n"))])
                word[i] = max([word[i], *(len(w) for w in plain.split())])
        room = available - GAP * (len(self.headers) - 1)
        widths = list(natural)
        for floor in (word, [len(h) for h in self.headers]):
            while sum(widths) > room:
                shrinkable = [i for i, w in enumerate(widths) if w > floor[i]]
                if not shrinkable:
                    break
                widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            title=self.title,
            title_justify="left",
        )
        for name, width in zip(self.headers, self.widths(options.max_width), strict=True):
            table.add_column(name, width=width, overflow="fold", no_wrap=False)
        for cells, style in self.rows:
            table.add_row(*cells, style=style or None)
        yield table

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (cells for cells, _ in self.rows)


def table(*headers: str, title: str | None = None) -> Grid:
    """Columns named ``headers``, none narrower than its name; cells fold, never ellipsize."""
    return Grid(*headers, title=title)


def console() -> Console:
    """The tools' console: no syntax colouring of numbers; 80 columns when not a terminal."""
    return Console(highlight=False)


def legend(out: Console, abbreviations: dict[str, str]) -> None:
    """One line that says what each abbreviated header or value stands for."""
    out.print("; ".join(f"{k}: {v}" for k, v in abbreviations.items()), style="dim")
