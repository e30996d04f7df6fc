"""The course's grader (see README.md).

Every grading process imports nbformat, and through it jsonschema, whose format checkers
import ``rfc3987_syntax`` when it is installed (an optional extra that the Jupyter stack pulls
in). That package compiles its grammars at import time, a cost paid by every job (measured:
BENCHMARKS.md, "import costs") for a "uri-reference" format check that no notebook schema uses. The grader does not need it, so it
is blocked here: jsonschema then skips that one check.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)
