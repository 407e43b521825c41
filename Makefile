# Two commands do everything on a fresh machine:
#   make demo   install, fetch the pretrained weights, run the demo
#   make test   install, fetch the pretrained weights, run the tests
PYTHON ?= python3
STAMP := .cache/install.stamp

.PHONY: install weights demo test test-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	@mkdir -p .cache && touch $(STAMP)

install: $(STAMP)

weights: install
	$(PYTHON) -m actionrec.cli fetch-weights

demo: weights
	$(PYTHON) -m actionrec.cli demo

test: weights
	@{ command -v Xvfb && command -v openbox; } >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends xvfb openbox; } >/dev/null 2>&1 || echo "note: Xvfb or openbox not installed (needs root): the window tests will be skipped"
	$(PYTHON) -m pytest -q

test-fast: weights
	$(PYTHON) -m pytest -q -m "not slow"

clean:
	rm -rf .cache runs lightning_logs wandb
