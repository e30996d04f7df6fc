#!/usr/bin/env bash
# The course's one entry point. Usage: bash course.sh COMMAND
#   lab       create .venv if missing, install everything, open JupyterLab on notebooks/
#   test      create or reuse .venv, run every test (what CI runs)
#   check     run the local checks of the exercises against your helpers/ (-k nb2: one notebook)
#   release   regenerate the student helpers/ and notebooks/ from solutions/
#   notebooks check the solved notebooks against their sources | run NN (execute, full mode) | sync
#   translate the notebooks' and messages' catalogues: translate update | status | validate FILE.po
#   data      download the data sets that are missing (CIFAR-10, ImageNet samples, paintings)
#   bench     run the benchmarks (not part of the tests)
#   train     retrain the shipped weights: train cifar | train style [NAME] (the instructor's library)
#   grade     the nbgrader grader: grade release | collect DIR | autograde [-j N] | feedback | export |
#             report | similarity [-a A] | status | formgrader | scheduler | worker ADDRESS
#   python    run the environment's Python: bash course.sh python -m helpers.data status
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD
VENV=${COURSE_VENV:-$ROOT/.venv}
PY=$VENV/bin/python

find_python() {
  for p in python3.11 python3 python; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))'; then
      echo "$p"; return 0
    fi
  done
  echo "course.sh: needs Python 3.10 or newer (3.11 recommended) on PATH" >&2; return 1
}

ensure_env() {
  local stamp=$VENV/.course-installed want
  want=$(cat requirements.txt | sha256sum | cut -c1-16)
  if [ ! -x "$PY" ]; then
    echo "course.sh: creating the virtual environment in $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "course.sh: installing the pinned packages (requirements.txt); the first time takes a few minutes"
    "$PY" -m pip install --disable-pip-version-check -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
    echo "$want" > "$stamp"
  fi
  # The one path rule: the project folder is on the environment's import path (a .pth file),
  # after whatever comes first (PYTHONPATH, a notebook's own folder): `helpers`, `autograde`
  # and `authoring` import from any front-end. Written once; a linked environment keeps its own.
  local pth
  pth=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/course-project.pth
  [ -e "$pth" ] || echo "$ROOT" > "$pth"
}

ensure_sandbox_tools() {  # the grader's sandbox: Debian's bubblewrap (apt)
  command -v bwrap >/dev/null 2>&1 && return 0
  [ -n "${COURSE_NO_APT:-}" ] && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && sudo="sudo -n"; } || { echo "course.sh: bubblewrap missing and no root: grading (and its tests) need it"; return 0; }
  echo "course.sh: installing Debian's bubblewrap for the grader's sandbox"
  { $sudo apt-get install -y -qq bubblewrap >/dev/null 2>&1 || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq bubblewrap >/dev/null; }; } \
    || echo "course.sh: could not install bubblewrap: the grader tests will be skipped"
}

ensure_test_tools() {  # the real-browser test: playwright (pip) and Debian's chromium (apt)
  local stamp=$VENV/.course-test-installed want
  want=$(cat requirements-test.txt | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$PY" -m pip install --disable-pip-version-check -q -r requirements-test.txt 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
    echo "$want" > "$stamp"
  fi
  # fonts with Korean and Chinese letters: the translated notebooks' figures and pages (small ones)
  if { [ ! -x /usr/bin/chromium ] || ! fc-list :lang=ko 2>/dev/null | grep -q .; } && [ -z "${COURSE_NO_APT:-}" ]; then
    local sudo=""
    [ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && sudo="sudo -n"; } || { echo "course.sh: chromium or fonts missing and no root: the browser test may be skipped"; return 0; }
    echo "course.sh: installing Debian's chromium and Korean / Chinese fonts for the browser and translation tests"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-nanum fonts-wqy-microhei >/dev/null; } \
      || echo "course.sh: could not install chromium or the fonts: the browser test may be skipped"
  fi
}

cmd=${1:-help}; [ $# -gt 0 ] && shift
case "$cmd" in
  lab)
    ensure_env
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT/notebooks" "$@"
    ;;
  test)
    ensure_env
    ensure_test_tools
    ensure_sandbox_tools
    # unit tests of the solutions, the release sync, the student stubs, and nbval on the
    # solved notebooks (in fast mode: the checked cells do not depend on the mode)
    export PYTHONPATH=$ROOT/solutions${PYTHONPATH:+:$PYTHONPATH} COURSE_FAST=1
    exec "$VENV/bin/pytest" -p no:cacheprovider -q tests solutions/notebooks --nbval --nbval-current-env \
      --nbval-cell-timeout=600 --nbval-sanitize-with tests/nbval_sanitize.cfg "$@"
    ;;
  check)
    ensure_env
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} MPLBACKEND=Agg
    exec "$PY" -m helpers.checks "$@"
    ;;
  release)
    ensure_env
    exec "$PY" -m authoring.release "$@"
    ;;
  notebooks)
    ensure_env
    exec "$PY" -m authoring.notebooks "$@"
    ;;
  data)
    ensure_env
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" -m helpers.data download "$@"
    ;;
  translate)
    ensure_env
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" -m authoring.translate "$@"
    ;;
  bench)
    ensure_env
    export PYTHONPATH=$ROOT/solutions:$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" tools/bench.py "$@"
    ;;
  train)
    ensure_env
    what=${1:-}; [ $# -gt 0 ] && shift
    case "$what" in
      cifar|style) ;;
      *) echo "usage: bash course.sh train cifar [OPTIONS] | train style [NAME] [OPTIONS]" >&2; exit 2 ;;
    esac
    export PYTHONPATH=$ROOT/solutions:$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" "tools/train_$what.py" "$@"
    ;;
  grade)
    ensure_env
    ensure_sandbox_tools
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" -m autograde "$@"
    ;;
  python)
    ensure_env
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    exec "$PY" "$@"
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    [ "$cmd" = help ] || exit 2
    ;;
esac
