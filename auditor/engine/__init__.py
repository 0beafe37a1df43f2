"""The engine: runs compiled profiles and rules against a store and builds findings.

``catalog`` loads what to evaluate (built-in profiles and packs plus the user's rule files),
``derive`` fills the narrow tables from spans, ``evaluate`` runs each rule's checks and turns
rows into ``Finding`` values, ``evidence`` looks up the spans that explain them. This is the
I/O side of the rule stage; the pure side is ``auditor.rules`` and ``auditor.profiles``.
"""
