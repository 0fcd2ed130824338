"""The README's list of supported options is the option table's, no more and no less."""

import re
from pathlib import Path

from wsgid.options import OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_exactly_the_implemented_options():
    text = README.read_text()
    section = text[text.index("`WSGIDaemonProcess` options:"):text.index("## Documentation")]
    listed = set(re.findall(r"`([a-z][a-z-]*)`", section)) - {"WSGIDaemonProcess"}
    listed.discard("docs/configuration.md")
    assert listed == {option.name for option in OPTIONS if option.implemented}
