#!/usr/bin/env bash
# Set up gan-spec: a .venv with torch, the project and its dev tools, and FashionMNIST.
# A working .venv made from the same requirements is left alone (the stamp .venv/gan-spec-setup holds a hash of
# pyproject.toml, this script and the Python version); `bash setup.sh --force` rebuilds it from scratch.
set -euo pipefail
cd "$(dirname "$0")"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) echo "error: setup.sh: unknown argument '$arg'; usage: bash setup.sh [--force]" >&2; exit 2 ;;
  esac
done
# One setup at a time: a second `setup.sh` (two terminals, two CI jobs on one checkout) waits for the first instead of
# deleting the .venv it is installing into. The lock file lies beside .venv, which --force removes.
if command -v flock >/dev/null; then
  exec 9>>.venv.lock
  if ! flock -n 9; then
    echo "setup.sh: another setup.sh is running in $(pwd); waiting for it to finish" >&2
    flock 9
  fi
fi
stamp=".venv/gan-spec-setup"
want="$({ cat pyproject.toml setup.sh; python3 --version 2>&1; } | sha256sum | cut -d' ' -f1)"
if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && .venv/bin/python -c "import torch, torchvision, impl, spec" >/dev/null 2>&1; then
  echo "gan-spec is already set up in .venv (requirements unchanged; bash setup.sh --force rebuilds it)"
else
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"  # last: an install that failed half-way leaves no stamp and is redone
  echo "gan-spec is set up in .venv"
fi
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1; then
    echo "installed FashionMNIST into /usr/share/datasets/fashion-mnist"
  else
    echo "note: could not install Debian's dataset-fashion-mnist; pass --data DIR with the IDX files to train on it" >&2
  fi
fi
