test:
	scripts/test

check:
	scripts/check

.PHONY: test check
