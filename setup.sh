#!/usr/bin/env bash
# Set up gan-spec from scratch: a fresh .venv with torch, the project and its dev tools, and FashionMNIST.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf .venv
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install --quiet -e '.[dev]'
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1; then
    echo "installed FashionMNIST into /usr/share/datasets/fashion-mnist"
  else
    echo "note: could not install Debian's dataset-fashion-mnist; pass --data DIR with the IDX files to train on it" >&2
  fi
fi
echo "gan-spec is set up in .venv"
