"""The audit's reports: one module per format, each `render(results, ...) -> str`.

`text` is for people at a terminal, `json` for scripts (a versioned shape), `sarif` for code
scanning (GitHub), `junit` for CI test views, `markdown` for pull requests. They only read
`AuditResult`s; `formats.render(fmt, results, fail_on=...)` picks one by name.

`FORMATS` is here, apart from the reports, for the command line to offer without loading
them.
"""

from __future__ import annotations

FORMATS = ("text", "json", "sarif", "junit", "markdown")
