# Two commands: `make run` serves the platform, `make test` checks it.
# Both create .venv and install the pinned requirements first.

VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test install lint bench-clean clean

$(PY):
	"$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP_RUN) $@

install: $(STAMP_RUN)

run: $(STAMP_RUN)
	$(PY) -m analytics_site.launcher

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m analytics_site.embedded exec -- $(PY) manage.py makemigrations --check --dry-run
	DJANGO_ENV=production DJANGO_SECRET_KEY=check-deploy-$$(date +%s)-not-a-real-secret-0123456789abcdefghijklmnop \
		DJANGO_ALLOWED_HOSTS=analytics.example.com \
		$(PY) -m analytics_site.embedded exec -- $(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m analytics_site.embedded exec -- $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV)
