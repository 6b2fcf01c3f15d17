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

    python3 bot-signatures/tools/unless_by_source.py [--lines]

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
DATA = "bot-signatures/data"
# The guard corpus, as bot_signatures::corpus::GUARD lists it.
TEXT_SETS = sorted(
    glob.glob(f"{DATA}/*/devices-guard.txt")
    + glob.glob(f"{DATA}/*/browsers-guard.txt")
    + [f"{DATA}/isbot/browsers.txt"]
)
JSON_SETS = [
    ("user-agents", "node_modules/user-agents/dist/user-agents.json", "userAgent"),
    ("ua-parser-js", "node_modules/ua-parser-js/test/device-test.json", "ua"),
]


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
    lines = []
    for path in TEXT_SETS:
        source = path.split("/")[-2]
        with open(path, encoding="utf-8", errors="replace") as f:
            lines += [(source, l.rstrip("\n")) for l in f if l.strip()]
    for source, path, key in JSON_SETS:
        with open(path, encoding="utf-8") as f:
            lines += [(source, entry[key]) for entry in json.load(f) if entry.get(key)]
    # Each line once per set, as the guard corpus loads them.
    return list(dict.fromkeys(lines))


def rules():
    for path in sorted(glob.glob(f"{CATALOG}/*.toml") + glob.glob(f"{CATALOG}/imported/*.toml")):
        with open(path, "rb") as f:
            for s in tomllib.load(f).get("signature", []):
                if s.get("unless"):
                    yield s


def main():
    show_lines = "--lines" in sys.argv[1:]
    lines = guard()
    sizes = collections.Counter(source for source, _ in lines)
    unseen_by_source = collections.Counter()
    print(f"guard: {len(lines)} lines from {len(sizes)} sets")
    for rule in rules():
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
