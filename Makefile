# The two commands: `make run` and `make test`. Both set up what is missing first.

LOCAL_DIR ?= .local
export LOCAL_DIR

.PHONY: run test test-fast bench audit purge adopt schema setup psql token db-stop clean

run: setup ## start the local database and deploy the plan to it
	scripts/run

test: setup ## run the whole test suite against a real PostgreSQL
	scripts/test

test-fast: setup ## the inner loop: the tests not marked slow, on two workers (pytest-xdist), in about 3 minutes
	scripts/test -m "not slow" -n 2

bench: setup ## the benchmark against the peers, in one run (ARGS='--scale 0.1' for a quick one)
	scripts/bench $(ARGS)

audit: setup ## integrity, volume and activity reports as an auditor (AUDIT_DATABASE_URL, or the local database)
	scripts/audit

purge: setup ## delete conversations inactive for OLDER_THAN='90 days' (PURGE_DATABASE_URL, or the local database)
	scripts/purge

adopt: setup ## a Phase II database (ADOPT_DATABASE_URL, as its owner) adopts the plan, every row kept
	scripts/adopt

schema: setup ## write db/schema.sql: the plan deployed in a throw-away PostgreSQL, dumped (the local database untouched)
	scripts/schema

setup: ## install what is missing: PostgreSQL, Sqitch, the Python environment
	@scripts/setup

psql: setup ## psql on the local database as its superuser (ARGS='-c "select 1"', or SQL on stdin); starts it if need be
	@scripts/psql $(ARGS)

token: setup ## a development token for make run's development user, or for USER_ID=<uuid> [EMAIL=…]
	@.venv/bin/python -m app.devtoken $(USER_ID) $(EMAIL)

db-stop: ## stop the local database (its data stays in .local/)
	scripts/pg-cluster stop $(LOCAL_DIR)/pg

clean: db-stop ## stop the local database and delete it, and the virtual environment
	rm -rf $(LOCAL_DIR) .venv
