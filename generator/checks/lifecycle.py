"""Check: no lifecycle expiration of the artifact bucket can delete the artifacts of a registered model.

SageMaker downloads a model version's `model.tar.gz` (its ModelDataUrl) whenever an endpoint gets a new
instance: at creation, on every scale-out, on an instance replacement and on a rollback to that version
(API_ContainerDefinition, ModelDataUrl). A lifecycle rule that expires current objects under the
model-artifact prefix (contract.MODEL_ARTIFACTS_PREFIX) therefore breaks every deployed version older
than the rule's age. The rendered product's rules name `Fn::Sub` prefixes over launch parameters (the
project name), so "could expire" is decided for every value the parameters can take: a rule's prefix
and the model prefix overlap when some key starts with both (`prefixes_overlap`).

S3 lifecycle: a rule applies to the objects whose key starts with its Prefix (no prefix: every object);
`ExpirationInDays`/`ExpirationDate` expire current objects (noncurrent-version rules do not).
https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.checks.finding import Finding
from generator.contract import MODEL_ARTIFACTS_PREFIX
from generator.manifest import Manifest

RULE = "S3-LIFECYCLE-MODEL-ARTIFACTS"
DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html"
MODEL_DOC = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html"

#: Characters an object key may hold, for this purpose (printable ASCII is enough to decide overlaps).
ANY = frozenset(string.ascii_letters + string.digits + string.punctuation + " ")
_LOWER = frozenset(string.ascii_lowercase + string.digits + "-")
#: What each `${...}` of a prefix can expand to: at least one of these characters. Project name and id
#: follow generator/naming.py's patterns; anything else may be any text, `/` included.
VARIABLES: Mapping[str, frozenset[str]] = {
    "SageMakerProjectName": _LOWER,
    "SageMakerProjectId": _LOWER,
    "AWS::AccountId": frozenset(string.digits),
    "AWS::Region": _LOWER,
    "AWS::Partition": _LOWER,
}
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Token:
    """One literal character (`chars` of size 1, `repeat` False) or a variable (one or more of `chars`)."""

    chars: frozenset[str]
    repeat: bool = False


Pattern = tuple[Token, ...]


def pattern_of(text: str) -> Pattern:
    """An `Fn::Sub` string as tokens; an unknown `${Name}` may be any text."""
    tokens: list[Token] = []
    position = 0
    for match in _SUB_VAR.finditer(text):
        tokens += [Token(frozenset(c)) for c in text[position : match.start()]]
        tokens.append(Token(VARIABLES.get(match.group(1), ANY), repeat=True))
        position = match.end()
    tokens += [Token(frozenset(c)) for c in text[position:]]
    return tuple(tokens)


#: A position in a pattern: the next token's index, and whether that (variable) token has taken a character.
_State = tuple[int, bool]


def _closure(pattern: Pattern, state: _State) -> Iterator[_State]:
    """The state and those reachable without a character (past a variable that has its one character)."""
    yield state
    index, taken = state
    while index < len(pattern) and pattern[index].repeat and taken:
        index, taken = index + 1, False
        yield index, taken


def _steps(pattern: Pattern, state: _State) -> Iterator[tuple[frozenset[str], _State]]:
    """(characters, next state) for each character the pattern can take in `state`."""
    index, _ = state
    if index < len(pattern):
        token = pattern[index]
        yield token.chars, ((index, True) if token.repeat else (index + 1, False))


def prefixes_overlap(first: Pattern, second: Pattern) -> bool:
    """True when some object key starts with a value of `first` and with a value of `second`.

    That is when one value is a prefix of the other: walk both patterns over the same characters (a
    product of the two automata); once either pattern is complete, the other can still be completed,
    so the two overlap. Variables are treated independently (a project name in both counts as two):
    a conservative answer, never a missed overlap.
    """
    start = ((0, False), (0, False))
    seen = {start}
    queue = [start]
    while queue:
        a, b = queue.pop()
        for a_state in _closure(first, a):
            for b_state in _closure(second, b):
                if a_state[0] == len(first) or b_state[0] == len(second):
                    return True
                for a_chars, a_next in _steps(first, a_state):
                    for b_chars, b_next in _steps(second, b_state):
                        if a_chars & b_chars and (a_next, b_next) not in seen:
                            seen.add((a_next, b_next))
                            queue.append((a_next, b_next))
    return False


def rule_prefix(rule: Mapping[str, Any]) -> Pattern | None:
    """The rule's prefix as a pattern (empty: every object); None when it is not a string or `Fn::Sub`."""
    prefix = rule.get("Prefix", "")
    if isinstance(prefix, str):
        return pattern_of(prefix)
    if isinstance(prefix, Mapping) and set(prefix) == {"Fn::Sub"} and isinstance(prefix["Fn::Sub"], str):
        return pattern_of(prefix["Fn::Sub"])
    return None


def expires_current_objects(rule: Mapping[str, Any]) -> bool:
    """An enabled rule with an expiration of current objects (noncurrent-version rules keep them)."""
    return rule.get("Status") == "Enabled" and ("ExpirationInDays" in rule or "ExpirationDate" in rule)


def _shown(prefix: Any) -> str:
    if isinstance(prefix, Mapping) and "Fn::Sub" in prefix:
        return repr(prefix["Fn::Sub"])
    return repr(prefix) if prefix else "none (every object)"


def bucket_findings(
    template: Mapping[str, Any], path: str, model_prefix: str = MODEL_ARTIFACTS_PREFIX
) -> list[Finding]:
    """One finding per enabled expiration rule of a bucket of `template` that can reach `model_prefix`."""
    models = pattern_of(model_prefix)
    findings: list[Finding] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        lifecycle = resource.get("Properties", {}).get("LifecycleConfiguration") or {}
        for rule in lifecycle.get("Rules", []) if isinstance(lifecycle, Mapping) else []:
            if not isinstance(rule, Mapping) or not expires_current_objects(rule):
                continue
            prefix = rule_prefix(rule)
            if prefix is not None and not prefixes_overlap(prefix, models):
                continue
            message = (
                f"{logical_id} lifecycle rule {rule.get('Id', '(no id)')} expires current objects under prefix "
                f"{_shown(rule.get('Prefix', ''))}, which can include the model artifacts under {model_prefix!r}: "
                "a registered version's model.tar.gz must stay while the version can be deployed, since SageMaker "
                f"downloads it on every scale-out, instance replacement and rollback ({MODEL_DOC}). S3 applies a "
                f"rule to every key that starts with its Prefix ({DOC}): give the rule a scratch prefix that no "
                f"model key starts with"
            )
            findings.append(Finding(path, _line(rule) or _line(resource), RULE, message, logical_id=logical_id))
    return findings


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """The product template's buckets: the artifact bucket holds the model artifacts (the seed pipeline's)."""
    from generator.checks.iam_check import decode_template

    try:
        path = manifest.path_of("product-template")
    except KeyError:
        return []
    return bucket_findings(decode_template(folder / path), path)
