# Two commands do everything: `make run` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint check bench graphs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "doorajar needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,redis,graph,plot]'
	@touch $(STAMP)

## run: the bot on Telegram when TELEGRAM_BOT_TOKEN is set (or in .env), else a console chat
run: $(STAMP)
	@set -a; [ -f .env ] && . ./.env; set +a; \
	if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then exec $(BIN)/doorajar run; \
	else exec $(BIN)/doorajar chat; fi

## test: lint, format check, types, content check, the whole test suite
test: $(STAMP) lint
	$(BIN)/doorajar check
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/doorajar check

## bench: doorajar against python-telegram-bot's own floor; BENCH_QUICK=1 for a smaller run
bench: $(STAMP)
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m bench

graphs: $(STAMP)
	@mkdir -p docs/flows
	@for f in flows/*.yaml; do id=$$(basename $$f .yaml); \
		$(BIN)/doorajar graph $$id -o docs/flows/$$id.md; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
