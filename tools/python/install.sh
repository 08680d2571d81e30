#!/usr/bin/env bash
# Makes the pinned Python tools (tools/python/requirements.txt: cfn-lint,
# moto's server, the AWS CLI) runnable from .venv/bin, which the Makefile puts
# on PATH. The virtual environment sees the machine's own packages: where the
# pinned versions are already installed, pip finds them without an index and
# nothing is downloaded; otherwise it says what it installs and gets it from
# PyPI. Needs python3 with its venv module (Debian: python3-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
requirements=tools/python/requirements.txt
venv=.venv
command -v python3 >/dev/null || { echo "tools/python: python3 is not installed; make test needs Python 3 with venv and pip (Debian: apt-get install python3-venv)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$venv" ||
    { rm -rf "$venv"; echo "tools/python: python3 -m venv failed; install Python's venv module (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
pins=$(grep -v '^#' "$requirements" | tr '\n' ' ')
if "$venv/bin/python" -m pip install --disable-pip-version-check --no-index --quiet -r "$requirements" >/dev/null 2>&1; then
  echo "tools/python: the pinned versions are already installed on this machine (${pins% }); nothing downloaded"
else
  echo "tools/python: installing ${pins% } from PyPI into $venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements"
fi
# A tool pip found among the machine's packages has its command outside the
# environment: give it one in .venv/bin that runs it with this interpreter,
# through the same entry point pip would have written.
shim() { # name, python code
  [ -e "$venv/bin/$1" ] && return
  printf '#!/bin/sh\nexec "%s" -c %q "$@"\n' "$PWD/$venv/bin/python" "$2" >"$venv/bin/$1"
  chmod +x "$venv/bin/$1"
}
entry='import sys; from importlib.metadata import entry_points; sys.argv[0] = "%s"; sys.exit(entry_points(group="console_scripts")["%s"].load()())'
# shellcheck disable=SC2059
shim cfn-lint "$(printf "$entry" cfn-lint cfn-lint)"
# shellcheck disable=SC2059
shim moto_server "$(printf "$entry" moto_server moto_server)"
shim aws 'import sys, runpy; sys.argv[0] = "aws"; runpy.run_module("awscli", run_name="__main__")'
for tool in cfn-lint moto_server aws; do
  "$venv/bin/$tool" --version >/dev/null 2>&1 || "$venv/bin/$tool" --help >/dev/null 2>&1 ||
    { echo "tools/python: $venv/bin/$tool does not run" >&2; exit 1; }
done
