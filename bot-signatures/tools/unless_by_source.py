#!/usr/bin/env python3
"""How much each generic rule's `unless` leans on words written for one guard source.

A generic rule flags a shape (a bare name, a `compatible` comment with one product, ...) and its
`unless` lists what it must spare: words written while the rule was checked against the guard
corpus. A guard line scores 0 false positives because some alternative of the `unless` spares it.
This asks what a *new* source would meet: for each guard line a rule's pattern matches, the line
counts as "unseen" for its source when every alternative that spares it spares lines of that
source only, so that with the source left out, nothing would have been written to spare it.

It is an estimate from development data alone (the guard), to set beside the held-out figures of
`cargo bench -p bot-signatures --bench versus`; it reads no held-out line. It is pessimistic for
words that are general but happen to occur in one source only (`android[:)]`), and it does not see
rules narrowed in their pattern rather than in an `unless`.

Usage, from the repository root (after `npm ci`, which installs two of the guard sets):

    python3 bot-signatures/tools/unless_by_source.py [--lines] [--catalog DIR]

Python's `re`, case-insensitive, reads these patterns as the catalog means them (ASCII classes,
`\\b`); the `unless` is split at its top-level `|`, and a group of words (`\\b(?:a|b|c)`,
`^(?:a|b)\\b`) into one alternative per word.
"""

import collections
import glob
import json
import re
import sys
import tomllib

CATALOG = "bot-signatures/catalog"
CORPUS_RS = "bot-signatures/src/corpus.rs"


def guard_paths():
    """The guard corpus's files, read from `bot_signatures::corpus::GUARD` (one list, not two)."""
    with open(CORPUS_RS, encoding="utf-8") as f:
        src = f.read()
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', src))
    body = re.search(r"pub const GUARD: \[&str; \d+\] = \[(.*?)\];", src, re.S).group(1)
    return [consts[name] for name in re.findall(r"\w+", body)]


def source_of(path):
    """A set's name: its npm package, or its directory under bot-signatures/data."""
    parts = path.split("/")
    return parts[1] if parts[0] == "node_modules" else parts[-2]


def split_top(pattern):
    """The top-level alternatives of a regex, as text."""
    out, cur, depth, in_class, i = [], "", 0, False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            cur += pattern[i : i + 2]
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(cur)
            cur = ""
            i += 1
            continue
        cur += c
        i += 1
    out.append(cur)
    return out


def words(alternative):
    """A group of words with a boundary or anchor around it, one alternative per word."""
    m = re.fullmatch(r"(\\b|\^)\(\?:(.*)\)(\\b)?", alternative)
    if m and len(split_top(m.group(2))) > 1:
        return [f"{m.group(1)}(?:{w}){m.group(3) or ''}" for w in split_top(m.group(2))]
    return [alternative]


def guard():
    """The guard lines with their set, as `BrowserCorpus::load_all` reads them: a JSON array of
    strings or `{userAgent}` / `{ua}` objects (none with a line break), or one user-agent per line
    (trimmed; blank and `#` lines skipped); each line once, in the first set that has it."""
    lines, seen = [], set()
    for path in guard_paths():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.lstrip().startswith("["):
            entries = [e if isinstance(e, str) else e.get("userAgent", e.get("ua")) for e in json.loads(text)]
            uas = [e for e in entries if "\r" not in e and "\n" not in e]
        else:
            uas = [l.strip() for l in text.splitlines()]
            uas = [l for l in uas if l and not l.startswith("#")]
        for ua in uas:
            if ua not in seen:
                seen.add(ua)
                lines.append((source_of(path), ua))
    return lines


def rules(catalog):
    for path in sorted(glob.glob(f"{catalog}/*.toml") + glob.glob(f"{catalog}/imported/*.toml")):
        with open(path, "rb") as f:
            for s in tomllib.load(f).get("signature", []):
                if s.get("unless"):
                    yield s


def main():
    args = sys.argv[1:]
    show_lines = "--lines" in args
    if "--catalog" in args and args.index("--catalog") + 1 >= len(args):
        sys.exit("unless_by_source.py: --catalog needs a directory")
    catalog = args[args.index("--catalog") + 1] if "--catalog" in args else CATALOG
    if not glob.glob(f"{catalog}/*.toml"):
        sys.exit(f"unless_by_source.py: no catalog (*.toml) in {catalog}: run from the repository root or pass --catalog DIR")
    try:
        lines = guard()
    except FileNotFoundError as e:
        sys.exit(f"unless_by_source.py: {e.filename} is missing: run from the repository root, after `npm ci`")
    sizes = collections.Counter(source for source, _ in lines)
    unseen_by_source = collections.Counter()
    print(f"guard: {len(lines)} lines from {len(sizes)} sets")
    for rule in rules(catalog):
        pattern = re.compile(rule["pattern"], re.I)
        alternatives = [(a, re.compile(a, re.I)) for x in split_top(rule["unless"]) for a in words(x)]
        matched = [(source, ua) for source, ua in lines if pattern.search(ua)]
        sparing = []
        spares = collections.defaultdict(set)
        for source, ua in matched:
            hits = [a for a, r in alternatives if r.search(ua)]
            sparing.append((source, ua, hits))
            for a in hits:
                spares[a].add(source)
        unseen = [
            (source, ua, hits)
            for source, ua, hits in sparing
            if hits and all(spares[a] == {source} for a in hits)
        ]
        per_source = collections.Counter(source for source, _, _ in unseen)
        unseen_by_source.update(per_source)
        print(
            f"{rule['id']}: pattern matches {len(matched)} guard lines, "
            f"{len(unseen)} spared only by words of their own source "
            f"{dict(per_source.most_common()) if per_source else ''}"
        )
        if show_lines:
            for source, ua, hits in unseen:
                print(f"    {source:20} {ua!r}  <- {' | '.join(hits)}")
    print("per source, lines a rule would flag had the source been new:")
    for source, n in unseen_by_source.most_common():
        print(f"  {source:20} {n:4} of {sizes[source]:6} = {100 * n / sizes[source]:.2f}%")


if __name__ == "__main__":
    main()
