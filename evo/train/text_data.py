"""Text classification tasks: token ids (N, T) for the ``sequence`` space kind.

Two sources, no network at run time:

- ``langid``: language identification of single words, character level, from Debian's word
  lists in ``root`` (default ``/usr/share/dict``; install them with ``apt-get install wamerican
  wngerman wfrench wspanish witalian wdutch wpolish wportuguese``). Words are lower-cased, kept
  when purely alphabetic, 2+ letters and in one list only; 2,000 training and 500 test words per
  language are drawn with a fixed seed, so the split never changes (the draw is cached in the
  image cache's folder, keyed by the lists' sizes and modification times).
- ``text``: a user's file — CSV or TSV with a header naming ``text`` and ``label`` columns, or
  JSONL objects with ``text`` and ``label`` — or a folder with ``train.*`` and optionally
  ``test.*`` in one of those formats. Labels may be strings or integers: the classes are the
  sorted distinct labels of the training file; a test label outside them is an error.

Tokens: characters (``tokenizer = "char"``, langid's default) or whitespace-separated words
(``"word"``, the default for files), built from the training file only, ranked by frequency
(ties by the token), so the first k ids are the k−2 most frequent tokens: id 0 is padding, 1
unknown (tokens never seen in training, or beyond the most frequent :data:`MAX_TOKENS`). Texts
longer than ``max_length`` tokens are truncated (their count is said when loading); an empty
text is an error naming its line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

LANGID_LISTS = {"english": "american-english", "german": "ngerman", "french": "french", "spanish": "spanish",
                "italian": "italian", "dutch": "dutch", "polish": "polish", "portuguese": "portuguese"}
LANGID_PACKAGES = "wamerican wngerman wfrench wspanish witalian wdutch wpolish wportuguese"
LANGID_TRAIN, LANGID_TEST = 2000, 500  # words per language
LANGID_VERSION = 1  # bump when the drawing changes: cached draws are then never read
DEFAULT_LENGTH = {"langid": 24, "text": 64}
DEFAULT_TOKENIZER = {"langid": "char", "text": "word"}
TOKENIZERS = ("char", "word")
MAX_TOKENS = 20_000  # most frequent training tokens given ids; the rest read as unknown
PAD, UNKNOWN = 0, 1
TEXT_SUFFIXES = (".csv", ".tsv", ".jsonl")


def tokenize(text: str, tokenizer: str) -> list[str]:
    return list(text) if tokenizer == "char" else text.split()


def build_vocabulary(texts: list[str], tokenizer: str) -> tuple[str, ...]:
    """Token strings by id from 2 on: the training texts' tokens by frequency, ties by the token."""
    counts = Counter(token for text in texts for token in tokenize(text, tokenizer))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_TOKENS]
    return tuple(token for token, _ in ranked)


def encode(texts: list[str], vocabulary: tuple[str, ...], tokenizer: str, max_length: int) -> tuple[np.ndarray, int]:
    """(int64 (N, max_length) ids, right-padded with 0, number of texts truncated)."""
    ids = {token: i + 2 for i, token in enumerate(vocabulary)}
    out = np.zeros((len(texts), max_length), dtype=np.int64)
    truncated = 0
    for row, text in enumerate(texts):
        tokens = tokenize(text, tokenizer)
        truncated += len(tokens) > max_length
        out[row, :min(len(tokens), max_length)] = [ids.get(t, UNKNOWN) for t in tokens[:max_length]]
    return out, truncated


def langid_words(root: str | Path | None) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
    """(train words, labels, test words, labels, language names) from Debian's word lists.

    Raises:
        ValueError: a word list is missing (with the apt command that installs them).
    """
    folder = Path(root or "/usr/share/dict")
    missing = [name for name in LANGID_LISTS.values() if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"langid: word lists {missing} are not in {str(folder)!r}; install them with "
                         f"`apt-get install {LANGID_PACKAGES}` (or point root at a folder holding them)")
    from nasco.evo.train.image_cache import cache_dir

    stats = [(name, (folder / name).stat()) for name in LANGID_LISTS.values()]
    key = hashlib.sha256(repr((LANGID_VERSION, LANGID_TRAIN, LANGID_TEST, str(folder.resolve()),
                               [(n, s.st_size, s.st_mtime_ns) for n, s in stats])).encode()).hexdigest()[:32]
    cached = cache_dir() / f"langid-{key}.json"
    if cached.is_file():  # reading the lists takes ~30 s (the Polish one holds 4.3 million words)
        data = json.loads(cached.read_text(encoding="utf-8"))
        return data["train"], data["train_y"], data["test"], data["test_y"], list(LANGID_LISTS)
    train, train_y, test, test_y = _draw_langid(folder)
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(dict(train=train, train_y=train_y, test=test, test_y=test_y)), encoding="utf-8")
        os.replace(partial, cached)
    except OSError:
        pass  # read again next time
    return train, train_y, test, test_y, list(LANGID_LISTS)


def _draw_langid(folder: Path) -> tuple[list[str], list[int], list[str], list[int]]:
    """The fixed langid split drawn from the word lists (see the module docstring)."""
    words = {}
    for language, name in LANGID_LISTS.items():
        text = (folder / name).read_text(encoding="utf-8", errors="replace")
        words[language] = {w.lower() for w in text.split() if w.isalpha() and len(w) >= 2}
    seen = Counter(w for found in words.values() for w in found)
    rng = np.random.default_rng(0)  # a fixed split, whatever the campaign's seed
    train, train_y, test, test_y = [], [], [], []
    for label, (language, found) in enumerate(words.items()):
        unique = sorted(w for w in found if seen[w] == 1)
        if len(unique) < LANGID_TRAIN + LANGID_TEST:
            raise ValueError(f"langid: {LANGID_LISTS[language]} has {len(unique)} usable words; "
                             f"allowed: at least {LANGID_TRAIN + LANGID_TEST}")
        pick = rng.choice(len(unique), LANGID_TRAIN + LANGID_TEST, replace=False)
        train += [unique[i] for i in pick[:LANGID_TRAIN]]
        test += [unique[i] for i in pick[LANGID_TRAIN:]]
        train_y += [label] * LANGID_TRAIN
        test_y += [label] * LANGID_TEST
    return train, train_y, test, test_y


def read_text_file(path: Path) -> tuple[list[str], list[str]]:
    """(texts, labels as strings) of a CSV/TSV (header with text and label) or JSONL file.

    Raises:
        ValueError: unknown format, missing columns/keys, an empty text (named by its line).
    """
    if path.suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{str(path)!r}: format {path.suffix or '(none)'} is not allowed; allowed: "
                         f"{', '.join(TEXT_SUFFIXES)}")
    try:
        return _read_text_rows(path)
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(path)!r}: not UTF-8 text ({err.reason}); allowed: a "
                         f"{path.suffix} file in UTF-8") from None
    except csv.Error as err:
        raise ValueError(f"{str(path)!r}: not a readable {path.suffix} file ({err})") from None


def _read_text_rows(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix == ".jsonl":
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    texts.append(str(item["text"]))
                    labels.append(str(item["label"]))
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise ValueError(f"{str(path)!r} line {line_no}: {type(err).__name__} {err}; allowed: a JSON "
                                     'object with "text" and "label"') from None
                _check_text(path, line_no, texts[-1])
        else:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
                raise ValueError(f"{str(path)!r}: header {reader.fieldnames} lacks text and label columns; allowed: "
                                 "a header row naming them (e.g. text,label)")
            for row in reader:
                texts.append(row["text"] or "")
                labels.append(row["label"] or "")
                _check_text(path, reader.line_num, texts[-1])
    if not texts:
        raise ValueError(f"{str(path)!r}: no texts; allowed: at least one text per class")
    return texts, labels


def _check_text(path: Path, line: int, text: str) -> None:
    if not text.strip():
        raise ValueError(f"{str(path)!r} line {line}: empty text; allowed: at least one token (remove the line)")


def text_files(root: str | Path | None) -> tuple[Path, Path | None]:
    """(training file, test file or None) of a ``text`` task's root (a file, or a folder with train.*/test.*)."""
    if root is None:
        raise ValueError("text: root is required: a .csv/.tsv/.jsonl file, or a folder with train.csv (…) and "
                         "optionally test.csv")
    path = Path(root)
    if path.is_file():
        return path, None
    found = {p.stem: p for p in sorted(path.glob("*")) if p.suffix in TEXT_SUFFIXES} if path.is_dir() else {}
    if "train" not in found:
        raise ValueError(f"text: {str(path)!r} is neither a text file nor a folder with train.csv, train.tsv or "
                         "train.jsonl")
    return found["train"], found.get("test")


def load_text_arrays(name: str, root: str | Path | None, max_length: int, tokenizer: str) -> dict:
    """The arrays of a text task: ids and labels of the training and test splits, classes, vocabulary.

    Raises:
        ValueError: missing or malformed files, empty texts, test labels unseen in training.
    """
    if name == "langid":
        train, train_y, test, test_y, classes = langid_words(root)
    else:
        train_path, test_path = text_files(root)
        train, train_labels = read_text_file(train_path)
        numeric = all(c.lstrip("-").isdigit() for c in train_labels)
        classes = sorted(set(train_labels), key=int if numeric else None)  # integer labels in numeric order
        index = {c: i for i, c in enumerate(classes)}
        train_y = [index[c] for c in train_labels]
        test, test_y = [], []
        if test_path is not None:
            test, test_labels = read_text_file(test_path)
            unseen = sorted(set(test_labels) - set(index))
            if unseen:
                raise ValueError(f"{str(test_path)!r}: labels {unseen[:5]} are not in the training file's classes "
                                 f"{classes[:10]}; allowed: labels the training split has")
            test_y = [index[c] for c in test_labels]
    if len(classes) < 2:
        raise ValueError(f"{name}: {len(classes)} class; allowed: at least 2 classes in the training split")
    vocabulary = build_vocabulary(train, tokenizer)
    x, cut = encode(train, vocabulary, tokenizer, max_length)
    x_test, cut_test = encode(test, vocabulary, tokenizer, max_length)
    if cut or cut_test:
        print(f"{name}: truncated {cut} of {len(train)} training and {cut_test} of {len(test)} test texts to "
              f"max_length = {max_length} tokens", file=sys.stderr)
    return dict(x=torch.from_numpy(x), y=torch.tensor(train_y, dtype=torch.long), x_test=torch.from_numpy(x_test),
                y_test=torch.tensor(test_y, dtype=torch.long), classes=tuple(classes), vocabulary=vocabulary)
