# Sourced by the rehearsal's scripts, which set name (how their lines
# start), start ($SECONDS at their start) and work (their scratch folder).
#
# step MESSAGE prints a step done, with the seconds since the start.
step() { echo "$name [$((SECONDS - start)) s]: $*"; }

# quiet COMMAND... runs a command, showing its output only when it fails.
quiet() {
  "$@" >"$work/out.log" 2>&1 || { grep -v '^!!' "$work/out.log" | tail -60 >&2; echo "$name: failed: $*" >&2; return 1; }
}

# copy_project DEST copies the project
# (its files, tracked or not, as they are; not what .gitignore leaves out)
# into DEST and links node_modules, so the CLI can run there: what it writes
# beside cdk.json (cdk.context.json, the app's binary) stays in the copy, and
# make test may synthesize and test in the checkout meanwhile.
copy_project() {
  mkdir -p "$1"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
      tar --null -T - -cf - | tar -xf - -C "$1"
  else
    tar --exclude=./node_modules --exclude=./cdk.out --exclude=./.cdk-app --exclude=./.venv -cf - . | tar -xf - -C "$1"
  fi
  ln -s "$PWD/node_modules" "$1/node_modules"
  # The pinned Python tools, where make python-tools put them.
  [ -d .venv ] && ln -s "$PWD/.venv" "$1/.venv"
  return 0
}
