# Entry points shown in the README. The real work lives in the scripts so that
# CI (.ci/run) and a developer run exactly the same steps.
SHELL := /bin/bash

.PHONY: test demo bootstrap testserver

bootstrap:
	bash tests/rig/bootstrap.sh

# The rig starts this binary; build it up front so the rig does not have to.
testserver:
	cargo build -p holysheep-testserver

test: bootstrap testserver
	bash tests/rig/with-rig.sh bash tests/run-all.sh

# The demo starts the rig itself unless VAULT_ADDR points at a real Vault.
demo: bootstrap testserver
	bash examples/demo.sh
