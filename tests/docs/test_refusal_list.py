"""docs/concepts.md's list of reasons the compiler refuses a function (and traces it) quotes
the compiler's messages: each quoted message is what the compiler says for a function of
refusal_targets.py, and each of those is quoted in the list."""
import pathlib
import re

import pytest

from adcompiler.compiler import UnsupportedSyntax, compile_function, parse_type

from .refusal_targets import TARGETS

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


def quoted_messages():
    """The quoted messages (backticked, four words or more) in the list of reasons to trace."""
    text = DOC.read_text()
    section = text[text.index("Common reasons to trace"):text.index("Errors that no fallback can fix")]
    spans = re.findall(r"`([^`]+)`", section.replace("\n  ", " "))
    return [s for s in spans if len(s.split()) >= 4]


def test_the_list_quotes_exactly_the_messages_with_targets():
    assert sorted(quoted_messages()) == sorted(TARGETS)


@pytest.mark.parametrize("message", sorted(TARGETS))
def test_each_quoted_message_is_what_the_compiler_says(message):
    fn, types = TARGETS[message]
    with pytest.raises(UnsupportedSyntax) as e:
        compile_function(fn, [parse_type(t) for t in types])
    assert message in e.value.reason
    assert e.value.file.endswith("refusal_targets.py") and e.value.line > 0
