#!/usr/bin/env python3
"""Write the option reference of docs/configuration.md from the option table (wsgid/options.py).

Only the text between the two marker comments is generated; everything around it is written by
hand. `--check` changes nothing and exits 1 when the committed docs differ from the table (the
test suite runs it), so the reference can never drift from the code.

Usage: python tools/gen_config_docs.py [--check]
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "configuration.md"
BEGIN = ("<!-- BEGIN GENERATED OPTION REFERENCE: edit wsgid/options.py, "
         "then run tools/gen_config_docs.py -->")
END = "<!-- END GENERATED OPTION REFERENCE -->"


def render(document: str, reference: str) -> str:
    """`document` with the text between the markers replaced by `reference`."""
    start = document.find(BEGIN)
    end = document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DOC.name} must contain the lines\n{BEGIN}\n{END}")
    return document[:start + len(BEGIN)] + "\n" + reference.rstrip("\n") + "\n" + document[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/configuration.md is out of date; change nothing")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from wsgid.options import reference_markdown

    current = DOC.read_text(encoding="utf-8")
    wanted = render(current, reference_markdown())
    if args.check:
        if current != wanted:
            print(f"{DOC.relative_to(REPO)} is out of date with wsgid/options.py: "
                  "run python tools/gen_config_docs.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
