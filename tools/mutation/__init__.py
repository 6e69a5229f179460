"""Mutation testing of ``supervisor/`` with the project's own tests.

Every mutant is a small change to the library (a flipped comparison, a dropped
argument, a changed constant). A mutant is *killed* when some test fails on it,
or the tests time out; it *survives* when the whole selected suite still passes.
A survivor is either a behaviour no test checks (a gap: write the test) or a
change that alters no behaviour (an *equivalent* mutant: explain it once in
``tools/mutation-equivalents.toml``).

Two kinds of mutants, one table:

- **mutmut** (3.8.x) mutates the bodies of functions and methods and runs each
  mutant in a forked process with only the tests that reach that function
  (mutmut records which tests call which function in a first full run). A
  mutant that no test reaches is reported as "not reached", apart from the
  survivors.
- **source** mutants cover what mutmut's trampolines cannot reach: module-level
  code (the transition table, constants), class bodies (``HealthRules``
  defaults, enum values, attrs fields), decorated functions (properties,
  ``open_supervisor``) and functions the module calls while it is imported.
  They use mutmut's own mutation operators; each one is written into a private
  copy of the tree and run against the whole suite in a fresh interpreter. Imports, ``TYPE_CHECKING`` blocks, ``__slots__`` and
  ``TypeVar`` declarations are not mutated: they carry no behaviour.

Both kinds run with Hypothesis's example database off and a fixed seed (the
``mutation`` profile of ``property_tests/conftest.py``), so a run is
reproducible and no mutant's failing example leaks into another's run. A
timeout counts as killed.

Usage (from the project root, after ``pip install -e '.[test,dev]'``)::

    .venv/bin/python -m tools.mutation                       # every mutant
    .venv/bin/python -m tools.mutation --sample 100 --seed 1 # a quick look
    .venv/bin/python -m tools.mutation --modules _status,_handle
    .venv/bin/python -m tools.mutation --report tools/mutation-report.md
    .venv/bin/python -m tools.mutation --rerun   # only last run's survivors

Exit status: 0 when every survivor is explained, 1 when some is not, 2 when the
run itself failed.
"""
