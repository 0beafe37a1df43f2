# ARGS are passed to pytest: make check ARGS="-q -x"
test:
	scripts/test $(ARGS)

check:
	scripts/check $(ARGS)

.PHONY: test check
