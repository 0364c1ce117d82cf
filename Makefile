# Both targets create .venv on first use and reinstall when pyproject.toml changes.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: test demo emulator install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	@# mysqlclient (MariaDB tests) builds against the MariaDB client headers.
	pkg-config --exists mariadb || pkg-config --exists mysqlclient || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config)
	$(VENV)/bin/uv pip install --python $(PY) -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m airflow_provider_emailverify.demo

emulator: $(STAMP)
	$(PY) -m airflow_provider_emailverify.emulator --host 127.0.0.1 --port 8099

clean:
	rm -rf $(VENV) .demo .pytest_cache
