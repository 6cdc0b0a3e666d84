# Environment every test run needs, sourced by scripts/test.sh and scripts/test_models.sh:
# a Git identity for the repositories the tests create (CI runs as a fresh root user), and
# no model-hub access (the model tests build their tiny model locally).
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-ftpolicy tests}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tests@ftpolicy.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-ftpolicy tests}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-tests@ftpolicy.invalid}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
