# ARGS are passed to pytest: make check ARGS="-q -x"
test:
	scripts/test $(ARGS)

check:
	scripts/check $(ARGS)

# Every benchmark, one table (bench/README.md); QUICK=1 for tiny sizes (a smoke test).
bench:
	.venv/bin/python -m bench $(if $(QUICK),--quick,)

.PHONY: test check bench
