#!/usr/bin/env python3
"""Replace one generated block of a Markdown file with a report's text.

    scripts/readme_block.py README.md NAME SCRIPT REPORT [--first-table]

The block lies between the markers `<!-- NAME: SCRIPT -->` and `<!-- end of NAME -->`, each
present once; everything between them is replaced by REPORT's text (with --first-table, only
its first "### " block: title, note and table). Text outside the markers is kept as it is.
"""
import argparse
import sys


def first_table(text):
    return "### " + text.split("### ")[1].rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("markdown")
    ap.add_argument("name")
    ap.add_argument("script", help="the script named in the opening marker")
    ap.add_argument("report")
    ap.add_argument("--first-table", action="store_true")
    a = ap.parse_args()
    text = open(a.markdown).read()
    block = open(a.report).read()
    if a.first_table:
        block = first_table(block)
    begin, end = f"<!-- {a.name}: {a.script} -->\n", f"<!-- end of {a.name} -->\n"
    if text.count(begin) != 1 or text.count(end) != 1:
        sys.exit(f"readme_block: {a.markdown} needs the {a.name} markers once each")
    head, rest = text.split(begin)
    text = head + begin + "\n" + block + "\n" + end + rest.split(end)[1]
    open(a.markdown, "w").write(text)


if __name__ == "__main__":
    main()
