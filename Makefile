# The course's two commands: `make book` builds the HTML book, `make test` runs every test.
# Both create the virtual environment in .venv from requirements.txt when it is missing or stale.
# For instructors: `make book-student` builds the book without solutions into _build/student/html, and
# `make slides` writes one reveal.js deck per chapter into _build/slides and its PDF into _build/slides/pdf
# (reveal.js and MathJax installed there with npm, the PDFs printed by headless Chromium).
# `make learner` rewrites learner/ (the chapters as plain notebooks for Jupyter, Binder and Colab) from notebooks/.
# Test groups: `make test-package` runs the package's fast tests (tests/package without those marked slow,
# under a minute), `make test-course` the course's (tests/course and nbval on notebooks/); `make test` runs
# all of them, slow ones included, as CI does. Within a run, select with markers:
# `-m "not browser"`, `-m "not book"`, `-m notebooks` (see tests/course/conftest.py), e.g.
# `make test PYTEST_ARGS='-m "not browser"'`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book book-student learner slides test test-package test-course bench clean venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . --builder html -W -n --keep-going

book-student: $(STAMP)
	$(BIN)/python scripts/student_book.py --output _build/student

learner: $(STAMP)
	$(BIN)/python scripts/learner_notebooks.py

slides: $(STAMP)
	$(BIN)/python scripts/make_slides.py --output _build/slides

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-package: $(STAMP)
	$(BIN)/python -m pytest tests/package -m "not slow" $(PYTEST_ARGS)

test-course: $(STAMP)
	$(BIN)/python -m pytest tests/course notebooks $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build
