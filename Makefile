test:
	scripts/test

check:
	scripts/check

# Every benchmark, one table (bench/README.md); QUICK=1 for tiny sizes (a smoke test).
bench:
	.venv/bin/python -m bench $(if $(QUICK),--quick,)

.PHONY: test check bench
