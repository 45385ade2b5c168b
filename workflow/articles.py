"""The one way an article of the regulation is cited: :class:`Article` and :class:`Citation`.

Every table cites the regulation through these types (the case machines, the warning and
payment lifecycles, the rules, the verification steps, the notices, the message
templates), and every string that reaches an API client, a journal entry or a message is
generated from them, as the regulation numbers itself:

========================================  ====================================
``art(21, 3)``                            第二十一条（三） / Art. 21(3)
``art(13, 2, 1, sub=7)``                  第十三条（二）1⑦
``art(10, 3, 11, to=13)``                 第十条（三）11-13
``cite((art(14), art(15)), art(10, 3, 3))``  第十四条、第十五条；第十条（三）3
========================================  ====================================

A leaf module: it imports nothing of the project, so that any table may cite.
"""
from __future__ import annotations

from dataclasses import dataclass

CN_NUMERALS = "零一二三四五六七八九"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals, as articles and items are numbered: 二十一, 十三, 三."""
    if n < 10:
        return CN_NUMERALS[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else CN_NUMERALS[tens]) + "十" + (CN_NUMERALS[units] if units else "")


@dataclass(frozen=True)
class Article:
    """An article of the regulation, down to the level it is cited at: the article
    (第二十一条), its item (（三）), the item's point (1, or a range of points 11-13)
    and the point's sub-point (⑦)."""

    number: int
    item: int | None = None
    point: int | None = None
    to: int | None = None  # the last point of a range (第十条（三）11-13)
    sub: int | None = None  # the circled sub-point (第十三条（二）1⑦)

    def __post_init__(self):
        assert self.number >= 1
        assert self.point is None or self.item is not None, "a point belongs to an item"
        assert self.to is None or (self.point is not None and self.to > self.point)
        assert self.sub is None or (self.point is not None and self.to is None)

    @property
    def _points(self) -> str:
        if self.point is None:
            return ""
        text = str(self.point) + (f"-{self.to}" if self.to else "")
        return text + (CIRCLED[self.sub - 1] if self.sub else "")

    @property
    def chinese(self) -> str:
        text = f"第{cn_number(self.number)}条"
        if self.item:
            text += f"（{cn_number(self.item)}）"
        return text + self._points

    @property
    def english(self) -> str:
        return f"Art. {self.number}" + (f"({self.item})" if self.item else "") + self._points

    @property
    def short(self) -> str:
        """As the message templates cite it after 第…条: 二十一条（三） → "二十一"."""
        return cn_number(self.number)

    @property
    def articles(self) -> tuple[Article, ...]:
        return (self,)

    def __str__(self) -> str:
        return f"{self.chinese} ({self.english})"


def art(number: int, item: int | None = None, point: int | None = None, *, to: int | None = None,
        sub: int | None = None) -> Article:
    return Article(number, item, point, to, sub)


@dataclass(frozen=True)
class Citation:
    """Several articles cited together: groups joined by "；", the articles of a group by
    "、" (第十四条、第十五条；第十条（三）3)."""

    groups: tuple[tuple[Article, ...], ...]

    @property
    def chinese(self) -> str:
        return "；".join("、".join(a.chinese for a in group) for group in self.groups)

    @property
    def english(self) -> str:
        return "; ".join(", ".join(a.english for a in group) for group in self.groups)

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(a for group in self.groups for a in group)

    @property
    def number(self) -> int:
        """The first article's number (what a table sorts or filters by)."""
        return self.groups[0][0].number

    def __str__(self) -> str:
        return f"{self.chinese} ({self.english})"


def cite(*parts: Article | tuple[Article, ...]) -> Citation:
    """``cite(art(11, 3), art(28, 3))`` → 第十一条（三）；第二十八条（三）; a tuple is one group."""
    return Citation(tuple(part if isinstance(part, tuple) else (part,) for part in parts))


Cited = Article | Citation
