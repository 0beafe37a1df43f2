"""The rule stage: YAML rule files → typed rules → SQL.

- ``loader``    files and folders → ``RuleSet`` or ``RuleError`` (the only I/O here)
- ``build``     one located document → ``RuleFile`` + located problems
- ``schema``    the published JSON Schema and the words of its messages
- ``model``     frozen dataclasses the compiler and evaluator read
- ``durations`` ``90s`` / ``5m`` / ``1h30m`` → seconds
- ``where``     the ``where:`` escape hatch: one pure SQL condition
- ``compiler``  rules → SQL (sqlglot AST)
"""
