"""What a student meets on a figure: the checks of tests/test_figure_texts.py and
tests/test_scenarios.py.

Every figure persona-sim writes records its titles, axis labels and legend entries in
the PNG (:func:`analysis.figures.png_bytes`). :func:`problems` reads them back and
lists what a reader without the docs could not follow:

- a raw name: a parameter's or a result column's name as the code spells it
  (``n_documents``, ``p_deceptive``), where words belong (``corpus size (N)``);
- an undefined symbol: a Greek letter, a starred or subscripted symbol (``s*``,
  ``s*_N``), ``mu(s)``, ``logit`` or a lone letter standing for a quantity, outside
  brackets. Symbols are welcome in brackets after the words that say what they are:
  ``planted share (ρ)``, ``fitted threshold (s*)``.

``P(...)`` (a probability) and numbers are not symbols.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from analysis.figures import TEXTS_KEY
from sim.params import PARAMETERS
from sim.schema import FINAL_COLUMNS, GENERATION_COLUMNS, TRAJECTORY_COLUMNS

#: Names as the code spells them: none may reach a figure.
RAW_NAMES = sorted(
    {p.name for p in PARAMETERS if "_" in p.name}
    | {c for c in (*FINAL_COLUMNS, *GENERATION_COLUMNS, *TRAJECTORY_COLUMNS) if "_" in c}
    | {"s_star", "s_star_low", "s_star_high", "s_star_meanfield_n", "s_star_meanfield_inf", "real_cited_rate"},
    key=len, reverse=True,
)
_RAW = re.compile(r"(?<![\w])(" + "|".join(map(re.escape, RAW_NAMES)) + r")(?![\w])")
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
#: Symbols outside brackets: Greek letters, s* and its kin, mu(s), logit, lone letters
#: (but "a", "A" and "I", which are words, and "P(", a probability).
_SYMBOL = re.compile(
    r"[α-ωΑ-Ω∞₀-₉]"
    r"|(?<![\w*])[a-zA-Z]\*"
    r"|(?<![\w])(?:mu|logit|rho|kappa|alpha|beta|eta|pi0|pi_0|lambda)(?![\w])"
    r"|(?<![\w'’-])(?![aAI](?![\w*_]))[a-zA-Z](?:_\w+)?(?![\w(*'’-])"
)


def _outside_brackets(text: str) -> str:
    previous = None
    while previous != text:  # nested brackets, innermost first
        previous, text = text, _BRACKETS.sub(" ", text)
    return text


def problems_in(texts: dict[str, list[str]]) -> list[str]:
    """The problems of one figure's words (:func:`analysis.figures.figure_texts`)."""
    found = []
    for role, entries in texts.items():
        for text in entries:
            for raw in _RAW.findall(text):
                found.append(f"{role} {text!r}: raw name {raw!r}")
            plain = _RAW.sub(" ", re.sub(r"(?<![\w])P\(", "Pr(", text))  # P(...) is a probability
            for symbol in _SYMBOL.findall(_outside_brackets(plain)):
                found.append(f"{role} {text!r}: symbol {symbol!r} without words (put it in brackets after them)")
    return found


def texts_of(path: Path) -> dict[str, list[str]]:
    """The words recorded in a PNG that persona-sim wrote."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        recorded = image.text.get(TEXTS_KEY)
    assert recorded is not None, f"{path} records no texts: it was not saved by analysis.figures.png_bytes"
    return json.loads(recorded)


def problems(path: Path) -> list[str]:
    """The problems of the figure saved at ``path``, each prefixed by its file name."""
    return [f"{path.name}: {p}" for p in problems_in(texts_of(path))]
