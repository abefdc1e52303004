"""Audiences from tags: a small JSON rule language over member features and model outputs.

`rules` parses and type-checks a rule, `compile` turns it into SQL with bound values, `query` answers
it on a source (count, breakdown, a page of ids, or an export). Sources: `warehouse` (batch, features
at a cutoff; imports the feature SQL) and `snapshot` (a release's snapshot; what the service uses,
through `served`). The language and its examples: docs/audiences.md.
"""

from memberwise.audience.compile import Compiled, compile_rule
from memberwise.audience.query import AudienceAnswer, AudienceSource, check, export, run
from memberwise.audience.rules import TAGS, Rule, RuleError, parse_rule, tags_used

__all__ = [
    "TAGS",
    "AudienceAnswer",
    "AudienceSource",
    "Compiled",
    "Rule",
    "RuleError",
    "check",
    "compile_rule",
    "export",
    "parse_rule",
    "run",
    "tags_used",
]
