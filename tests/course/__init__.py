"""The course tests: notebooks, book, student edition, slides, the book in a browser (see ``conftest``).

A package, so that its ``conftest`` is imported as ``course.conftest`` and the name ``conftest`` keeps meaning
``tests/conftest.py`` for the package tests that import from it.
"""
